using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Platform.Inference.Models.Llama;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Inference.Models.Moe;

/// <summary>One SwiGLU expert's three projections (gate, up, down), whatever the family calls them.</summary>
public interface IExpertMLP
{
    Linear GateProjection { get; }
    Linear UpProjection { get; }
    Linear DownProjection { get; }
}

/// <summary>
/// OlmoeMLP and Qwen2MoeMLP (modeling_olmoe.py, modeling_qwen2_moe.py; the two modules are identical):
/// down_proj(silu(gate_proj(x)) * up_proj(x)) without biases, at a given intermediate width (an expert's, or
/// Qwen2-MoE's shared expert's). Span rows run on <see cref="RowKernels"/> with their own scratch.
/// </summary>
public sealed class MoeMLP : nn.Module<Tensor, Tensor>, IExpertMLP
{
    public readonly Linear gate_proj;
    public readonly Linear up_proj;
    public readonly Linear down_proj;
    private readonly int _intermediate;
    private Tensor? _gateUp;
    private float[] _gu = [], _act = [];

    public MoeMLP(int hidden, int intermediate) : base(nameof(MoeMLP))
    {
        _intermediate = intermediate;
        gate_proj = nn.Linear(hidden, intermediate, hasBias: false);
        up_proj = nn.Linear(hidden, intermediate, hasBias: false);
        down_proj = nn.Linear(intermediate, hidden, hasBias: false);
        RegisterComponents();
    }

    public Linear GateProjection => gate_proj;
    public Linear UpProjection => up_proj;
    public Linear DownProjection => down_proj;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        if (_gateUp is not null && !is_grad_enabled())
        {
            var gu = RowKernels.Linear(x, _gateUp, null);
            var h = gu.narrow(-1, 0, _intermediate).silu_().mul_(gu.narrow(-1, _intermediate, _intermediate));
            return RowKernels.Linear(h, down_proj.weight!, null).MoveToOuterDisposeScope();
        }
        return down_proj.forward(nn.functional.silu(gate_proj.forward(x)) * up_proj.forward(x)).MoveToOuterDisposeScope();
    }

    /// <summary>gate and up in one [2I, H] buffer (the Linear weights become views of it).</summary>
    internal void Fuse()
    {
        if (_gateUp is not null) return;
        using var noGrad = no_grad();
        _gateUp = Fusion.FuseRows([gate_proj, up_proj]).Weight;
    }

    internal bool IsFused => _gateUp is not null;

    /// <summary>Span rows [rows, H] into <paramref name="output"/> [rows, H] (overwritten).</summary>
    internal void ForwardRows(ReadOnlySpan<float> x, Span<float> output, int rows, int threads)
    {
        int n = _intermediate;
        if (_gu.Length < rows * 2 * n) { _gu = new float[rows * 2 * n]; _act = new float[rows * n]; }
        RowKernels.Gemm(_gateUp!, null, x, _gu.AsSpan(0, rows * 2 * n), rows, threads);
        for (int row = 0; row < rows; row++) SwiGlu.Apply(_gu.AsSpan(row * 2 * n, 2 * n), _act.AsSpan(row * n, n));
        RowKernels.Gemm(down_proj.weight!, null, _act.AsSpan(0, rows * n), output, rows, threads);
    }
}

/// <summary>silu(gate) * up on one row of a fused [gate | up] projection.</summary>
internal static class SwiGlu
{
    public static void Apply(ReadOnlySpan<float> gateUp, Span<float> output)
    {
        int n = output.Length;
        var gate = gateUp[..n];
        TensorPrimitives.Sigmoid(gate, output);            // silu(g) = g * sigmoid(g), as LlamaMLP.DecodeRows
        TensorPrimitives.Multiply(output, gate, output);
        TensorPrimitives.Multiply(output, gateUp.Slice(n, n), output);
    }
}
