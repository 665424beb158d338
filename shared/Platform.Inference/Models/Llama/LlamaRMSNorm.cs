using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Inference.Models.Llama;

/// <summary>
/// LlamaRMSNorm (transformers/models/llama/modeling_llama.py): y = w * x / sqrt(mean(x^2) + eps).
/// Hand-written because TorchSharp 0.107 has no RMSNorm module.
/// </summary>
public sealed class LlamaRMSNorm : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;
    private readonly double _eps;

    public LlamaRMSNorm(long hiddenSize, double eps) : base(nameof(LlamaRMSNorm))
    {
        weight = new Parameter(ones(hiddenSize));
        _eps = eps;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var variance = x.square().mean([-1L], keepdim: true);
        return (x * (variance + _eps).rsqrt_() * weight).MoveToOuterDisposeScope();
    }

    /// <summary>The same normalisation for rows [n, hidden] (span decode), in the same order: (x * rsqrt) * w.</summary>
    internal void ForwardRows(ReadOnlySpan<float> x, Span<float> y)
    {
        var w = RowKernels.Floats(weight);
        int h = w.Length;
        for (int row = 0; row * h < x.Length; row++)
        {
            var xr = x.Slice(row * h, h);
            var yr = y.Slice(row * h, h);
            float inverse = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(xr) / h + (float)_eps);
            TensorPrimitives.Multiply(xr, inverse, yr);
            TensorPrimitives.Multiply(yr, w, yr);
        }
    }
}
