using static TorchSharp.torch;

namespace Platform.Multimodal.Models.Vq;

/// <summary>
/// The codebook of the VQ-VAE, updated by exponential moving averages instead of a codebook loss (van den Oord et
/// al. 2017, appendix A.1): per entry, N_i (count of encoder outputs assigned to it) and m_i (their sum) decay
/// with gamma, and e_i = m_i / N_i with Laplace smoothing of the counts. Entries whose count falls below
/// <see cref="DeadThreshold"/> are restarted on encoder outputs of the current batch (dead-code restarts), so
/// every entry stays in use. Quantisation picks the nearest entry in squared Euclidean distance; the straight-
/// through estimator (the paper's eq. 3) copies the decoder's gradient onto the encoder output.
/// </summary>
public sealed class VqCodebook : nn.Module
{
    /// <summary>e: [K, D], the weight the decoder's lookup reads (saved).</summary>
    public readonly Tensor embedding;
    // EMA statistics: training state only, not part of the saved checkpoint.
    private readonly Tensor _clusterSize, _embedSum;
    private readonly double _decay;

    public const double Epsilon = 1e-5;
    /// <summary>An entry whose decayed count is below this is restarted (about one assignment in the last 1/(1-gamma) steps).</summary>
    public const double DeadThreshold = 1.0;

    public VqCodebook(VqTokenizerConfig config) : base(nameof(VqCodebook))
    {
        Size = config.CodebookSize;
        Dim = config.CodeDim;
        _decay = config.EmaDecay;
        embedding = randn(Size, Dim) * 0.1;
        _clusterSize = ones(Size);
        _embedSum = embedding.clone();
        register_buffer(nameof(embedding), embedding);
        register_buffer("cluster_size", _clusterSize, persistent: false);
        register_buffer("embed_sum", _embedSum, persistent: false);
    }

    public int Size { get; }
    public int Dim { get; }

    /// <summary>Nearest entry of every row of <paramref name="flat"/> [N, D] -> indices [N] (int64).</summary>
    public Tensor Nearest(Tensor flat)
    {
        using var scope = NewDisposeScope();
        // |x - e|^2 = |x|^2 - 2 x.e + |e|^2; |x|^2 does not change the argmin.
        var distances = -2 * flat.matmul(embedding.t()) + embedding.pow(2).sum(1).unsqueeze(0);
        return distances.argmin(1).MoveToOuterDisposeScope();
    }

    /// <summary>Codes [B, G, G] (int64) -> code vectors [B, D, G, G] (the decoder's input).</summary>
    public Tensor Lookup(Tensor codes)
    {
        using var scope = NewDisposeScope();
        long b = codes.shape[0], g = codes.shape[1], w = codes.shape[2];
        return embedding.index_select(0, codes.reshape(-1)).view(b, g, w, Dim).permute(0, 3, 1, 2).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>z_e [B, D, G, G] -> codes [B, G, G].</summary>
    public Tensor Encode(Tensor ze)
    {
        using var scope = NewDisposeScope();
        long b = ze.shape[0], g = ze.shape[2], w = ze.shape[3];
        var flat = ze.permute(0, 2, 3, 1).reshape(-1, Dim);
        return Nearest(flat).view(b, g, w).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// One training step's quantisation: codes, z_q with the straight-through gradient (z_e + sg(z_q - z_e)), the
    /// commitment term |z_e - sg(z_q)|^2, and, in training mode, the EMA update and dead-code restarts.
    /// </summary>
    public (Tensor Codes, Tensor Quantized, Tensor Commitment) Quantize(Tensor ze, Generator? restarts = null)
    {
        using var scope = NewDisposeScope();
        long b = ze.shape[0], g = ze.shape[2], w = ze.shape[3];
        var flat = ze.permute(0, 2, 3, 1).reshape(-1, Dim);
        Tensor codes;
        using (no_grad()) codes = Nearest(flat.detach());
        var zq = embedding.index_select(0, codes).view(b, g, w, Dim).permute(0, 3, 1, 2);
        var commitment = nn.functional.mse_loss(ze, zq.detach());
        if (training)
            using (no_grad()) UpdateEma(flat.detach(), codes, restarts);
        var straight = ze + (zq - ze).detach();
        return (codes.view(b, g, w).MoveToOuterDisposeScope(), straight.MoveToOuterDisposeScope(), commitment.MoveToOuterDisposeScope());
    }

    private void UpdateEma(Tensor flat, Tensor codes, Generator? generator)
    {
        using var scope = NewDisposeScope();
        var onehot = nn.functional.one_hot(codes, Size).to(float32);       // [N, K]
        // sum([0L]), not sum(0): the literal 0 converts to ScalarType and picks the whole-tensor overload.
        _clusterSize.mul_(_decay).add_(onehot.sum([0L]), alpha: 1 - _decay);
        _embedSum.mul_(_decay).add_(onehot.t().matmul(flat), alpha: 1 - _decay);
        var n = _clusterSize.sum();
        var smoothed = (_clusterSize + Epsilon) / (n + Size * Epsilon) * n;
        embedding.copy_(_embedSum / smoothed.unsqueeze(1));
        // Dead-code restarts: entries nobody chose lately move onto random encoder outputs of this batch.
        var dead = (_clusterSize < DeadThreshold).nonzero().view(-1);
        long count = dead.shape[0];
        if (count == 0) return;
        var pick = randint(flat.shape[0], [count], dtype: int64, generator: generator);
        var fresh = flat.index_select(0, pick);
        embedding.index_put_(fresh, dead);
        _embedSum.index_put_(fresh, dead);
        _clusterSize.index_put_(ones(count), dead);
    }

    /// <summary>The decayed assignment count N_i of every entry (training statistics).</summary>
    public float[] ClusterSizes() => _clusterSize.data<float>().ToArray();

    /// <summary>Entries with a decayed count of at least one assignment (the codebook in use).</summary>
    public int EntriesInUse()
    {
        using var _ = no_grad();
        return (int)(_clusterSize >= DeadThreshold).sum().item<long>();
    }
}
