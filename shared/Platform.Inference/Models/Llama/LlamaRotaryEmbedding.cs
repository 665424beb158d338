using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Inference.Models.Llama;

/// <summary>
/// LlamaRotaryEmbedding with the "default", "linear" and "llama3" rope types
/// (transformers/modeling_rope_utils.py: _compute_default_rope_parameters, _compute_llama3_parameters).
/// Deliberately NOT a Module: a Tensor field inside a TorchSharp Module is saved to the state dict even when
/// registered non-persistent, and HF checkpoints have no rotary tensors, so strict loading would fail.
/// cos/sin tables grow on demand up to the positions actually used. With a partial rotary factor (Phi3Config) the
/// tables span the leading <see cref="LlamaConfig.RotaryDimension"/> dims of a head and the rest pass unchanged.
/// </summary>
public sealed class LlamaRotaryEmbedding : IDisposable
{
    private readonly float[] _invFreq;
    private readonly int _headDim;
    private readonly object _gate = new();
    private Tensor? _cos, _sin;
    private Device _device = CPU;

    public LlamaRotaryEmbedding(LlamaConfig config)
    {
        _headDim = config.RotaryDimension;
        _invFreq = ComputeInvFreq(config);
    }

    /// <summary>Inverse frequencies [rotary_dim/2], after rope scaling.</summary>
    public IReadOnlyList<float> InverseFrequencies => _invFreq;

    public static float[] ComputeInvFreq(LlamaConfig config)
    {
        int dim = config.RotaryDimension;
        var inv = new double[dim / 2];
        for (int i = 0; i < inv.Length; i++) inv[i] = 1.0 / Math.Pow(config.RopeTheta, 2.0 * i / dim);
        if (config.RopeScaling is { } rs)
        {
            if (rs.Type == "linear")
            {
                for (int i = 0; i < inv.Length; i++) inv[i] /= rs.Factor;
            }
            else if (rs.Type == "llama3")
            {
                // _compute_llama3_parameters: long wavelengths are divided by factor, short kept, smooth in between.
                double lowFreqWavelen = rs.OriginalMaxPositionEmbeddings / rs.LowFreqFactor;
                double highFreqWavelen = rs.OriginalMaxPositionEmbeddings / rs.HighFreqFactor;
                for (int i = 0; i < inv.Length; i++)
                {
                    double wavelen = 2 * Math.PI / inv[i];
                    if (wavelen > lowFreqWavelen) inv[i] /= rs.Factor;
                    else if (wavelen >= highFreqWavelen)
                    {
                        double smooth = (rs.OriginalMaxPositionEmbeddings / wavelen - rs.LowFreqFactor) / (rs.HighFreqFactor - rs.LowFreqFactor);
                        inv[i] = (1 - smooth) * inv[i] / rs.Factor + smooth * inv[i];
                    }
                }
            }
        }
        return inv.Select(x => (float)x).ToArray();
    }

    /// <summary>
    /// cos and sign-folded sin gathered at <paramref name="positionIds"/> [B,T], shaped [B,T,1,rotary_dim]. The sin
    /// table holds -sin in its first half, so rotate_half(x) * sin == roll(x, half) * signedSin (see <see cref="Apply"/>).
    /// </summary>
    public (Tensor Cos, Tensor Sin) Gather(Tensor positionIds, long maxPosition)
    {
        var (cosT, sinT) = Tables(maxPosition + 1, positionIds.device);
        var shape = new long[] { positionIds.shape[0], positionIds.shape[1], 1, _headDim };
        var flat = positionIds.reshape(-1);
        return (cosT.index_select(0, flat).view(shape), sinT.index_select(0, flat).view(shape));
    }

    /// <summary>Single-token decode: views of one table row (no gather), shaped [1,1,1,rotary_dim].</summary>
    public (Tensor Cos, Tensor Sin) At(long position, Device device)
    {
        var (cosT, sinT) = Tables(position + 1, device);
        return (cosT.narrow(0, position, 1).view(1, 1, 1, _headDim), sinT.narrow(0, position, 1).view(1, 1, 1, _headDim));
    }

    private (Tensor, Tensor) Tables(long needed, Device device)
    {
        lock (_gate)
        {
            if (_cos is null || _cos.shape[0] < needed || _device.type != device.type || _device.index != device.index)
            {
                long n = Math.Max(needed, 2 * (_cos?.shape[0] ?? 128));
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                // Same order of operations as HF: freqs = outer(t, inv_freq) in float32, emb = cat(freqs, freqs).
                var t = arange(n, dtype: ScalarType.Float32);
                var inv = tensor(_invFreq);
                var freqs = outer(t, inv);
                var emb = cat([freqs, freqs], -1);
                _cos?.Dispose(); _sin?.Dispose();
                var sin = emb.sin();
                sin.narrow(-1, 0, _headDim / 2).neg_();
                _cos = emb.cos().to(device).DetachFromDisposeScope();
                _sin = sin.to(device).DetachFromDisposeScope();
                _device = device;
            }
            return (_cos, _sin!);
        }
    }

    /// <summary>
    /// HF apply_rotary_pos_emb, x * cos + rotate_half(x) * sin with rotate_half(x) = cat(-x2, x1), written as
    /// x * cos + roll(x, half) * signedSin: three tensor ops instead of seven (per-op overhead dominates decode).
    /// x is [B,T,heads,head_dim]; cos/sin come from <see cref="Gather"/>. When they are narrower than a head (partial
    /// rotary), the leading dims turn and the rest are concatenated unchanged (modeling_phi3.py apply_rotary_pos_emb).
    /// </summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor signedSin)
    {
        long rot = cos.shape[^1], d = x.shape[^1];
        if (rot == d) return torch.addcmul(x * cos, x.roll(rot / 2, -1), signedSin, 1);
        var turned = x.narrow(-1, 0, rot);
        return cat([torch.addcmul(turned * cos, turned.roll(rot / 2, -1), signedSin, 1), x.narrow(-1, rot, d - rot)], -1);
    }

    public void Dispose()
    {
        _cos?.Dispose();
        _sin?.Dispose();
    }
}
