using static TorchSharp.torch;

namespace Platform.Multimodal.Models.Vq;

/// <summary>
/// The VQ image tokenizer (VQ-VAE, van den Oord et al. 2017): <see cref="encoder"/> maps a picture to a grid of
/// vectors, <see cref="codebook"/> replaces each by its nearest entry (the image tokens), <see cref="decoder"/>
/// paints the picture back from the entries. Weights: vq.safetensors (encoder.*, codebook.embedding, decoder.*),
/// sizes in vq_config.json.
/// </summary>
public sealed class VqTokenizer : nn.Module<Tensor, Tensor>
{
    public readonly VqEncoder encoder;
    public readonly VqCodebook codebook;
    public readonly VqDecoder decoder;

    public VqTokenizer(VqTokenizerConfig config) : base(nameof(VqTokenizer))
    {
        config.Validate();
        Config = config;
        encoder = new VqEncoder(config);
        codebook = new VqCodebook(config);
        decoder = new VqDecoder(config);
        RegisterComponents();
    }

    public VqTokenizerConfig Config { get; }

    /// <summary>Reconstruction: image [B, 3, S, S] -> image through the codes.</summary>
    public override Tensor forward(Tensor image)
    {
        using var scope = NewDisposeScope();
        return Decode(Encode(image)).MoveToOuterDisposeScope();
    }

    /// <summary>image [B, 3, S, S] in [0, 1] -> codes [B, G, G] (int64).</summary>
    public Tensor Encode(Tensor image)
    {
        using var scope = NewDisposeScope();
        return codebook.Encode(encoder.forward(image)).MoveToOuterDisposeScope();
    }

    /// <summary>codes [B, G, G] (int64) -> image [B, 3, S, S] in [0, 1].</summary>
    public Tensor Decode(Tensor codes)
    {
        using var scope = NewDisposeScope();
        return decoder.forward(codebook.Lookup(codes)).MoveToOuterDisposeScope();
    }

    /// <summary>The training objective: |x - D(z_q)|^2 + beta |z_e - sg(z_q)|^2 (eq. 3 without the codebook term, which
    /// the EMA update replaces). Returns the reconstruction, both terms and the codes.</summary>
    public (Tensor Reconstruction, Tensor ReconstructionLoss, Tensor Commitment, Tensor Codes) TrainingForward(Tensor image, Generator? restarts = null)
    {
        using var scope = NewDisposeScope();
        var ze = encoder.forward(image);
        var (codes, zq, commitment) = codebook.Quantize(ze, restarts);
        var reconstruction = decoder.forward(zq);
        var loss = nn.functional.mse_loss(reconstruction, image);
        return (reconstruction.MoveToOuterDisposeScope(), loss.MoveToOuterDisposeScope(), commitment.MoveToOuterDisposeScope(), codes.MoveToOuterDisposeScope());
    }
}
