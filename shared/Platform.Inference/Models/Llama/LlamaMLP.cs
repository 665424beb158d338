using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Inference.Models.Llama;

/// <summary>LlamaMLP: down_proj(silu(gate_proj(x)) * up_proj(x)) (SwiGLU).</summary>
public partial class LlamaMLP : nn.Module<Tensor, Tensor>
{
    public readonly Linear gate_proj;
    public readonly Linear up_proj;
    public readonly Linear down_proj;
    private Tensor? _gateUp;
    private Tensor? _gateUpBias;
    private readonly long _intermediate;

    public LlamaMLP(LlamaConfig config) : this(config, fusedGateUp: null)
    {
    }

    /// <summary>
    /// With <paramref name="fusedGateUp"/> (a checkpoint that stores one [2I, H] gate-then-up projection, Phi3MLP's
    /// gate_up_proj): gate/up_proj are not registered and are views of its rows (no copy).
    /// </summary>
    private protected LlamaMLP(LlamaConfig config, Linear? fusedGateUp) : base(nameof(LlamaMLP))
    {
        _intermediate = config.IntermediateSize;
        gate_proj = nn.Linear(config.HiddenSize, config.IntermediateSize, hasBias: config.MlpBias);
        up_proj = nn.Linear(config.HiddenSize, config.IntermediateSize, hasBias: config.MlpBias);
        down_proj = nn.Linear(config.IntermediateSize, config.HiddenSize, hasBias: config.MlpBias);
        _fusedCheckpoint = fusedGateUp;
        if (fusedGateUp is null) RegisterComponents();
        else
        {
            Fusion.ViewRows(fusedGateUp, [gate_proj, up_proj]);
            register_module(nameof(down_proj), down_proj);
        }
    }

    private readonly Linear? _fusedCheckpoint;

    /// <summary>A fused checkpoint's modules are registered by hand: TorchSharp's field reflection (run again when a
    /// parent registers this module) would add gate/up_proj and the fused field, which the checkpoint does not hold.</summary>
    protected override void RegisterComponents()
    {
        if (_fusedCheckpoint is null) base.RegisterComponents();
    }

    /// <summary>
    /// Stores gate and up weights in one [2I, H] buffer (one matmul per step instead of two) and re-points the
    /// two Linear weights at views of it, so no memory is duplicated and the state dict keeps the HF names.
    /// </summary>
    internal void Fuse()
    {
        if (_gateUp is not null) return;
        using var noGrad = no_grad();
        if (_fusedCheckpoint is { } f)
        {
            // Views again: moving the module to a device replaces the fused parameter.
            Fusion.ViewRows(f, [gate_proj, up_proj]);
            (_gateUp, _gateUpBias) = (f.weight!, f.bias);
            return;
        }
        var (w, b) = Fusion.FuseRows([gate_proj, up_proj]);
        _gateUp = w;
        _gateUpBias = b;
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor hidden;
        if (_gateUp is not null && !is_grad_enabled())
        {
            var gu = RowKernels.Linear(x, _gateUp, _gateUpBias, _gateUpQ);
            hidden = gu.narrow(-1, 0, _intermediate).silu_().mul_(gu.narrow(-1, _intermediate, _intermediate));
        }
        else if (_fusedCheckpoint is { } f)
        {
            // Differentiable through the checkpoint's own parameter: gate rows first (Phi3MLP: chunk(2)).
            var gu = f.forward(x);
            hidden = nn.functional.silu(gu.narrow(-1, 0, _intermediate)) * gu.narrow(-1, _intermediate, _intermediate);
        }
        else
        {
            hidden = nn.functional.silu(gate_proj.forward(x)) * up_proj.forward(x);
        }
        return (is_grad_enabled() ? down_proj.forward(hidden) : RowKernels.Linear(hidden, down_proj.weight!, down_proj.bias, _downQ)).MoveToOuterDisposeScope();
    }

    /// <summary>Span decode of rows [n, hidden] (see <see cref="RowKernels"/>); needs <see cref="Fuse"/>.</summary>
    internal void DecodeRows(ReadOnlySpan<float> x, Span<float> output, RowDecode r)
    {
        int n = (int)_intermediate;
        RowKernels.Gemm(_gateUp!, _gateUpQ, _gateUpBias, x, r.Used(r.GateUp, 2 * n), r.Rows, r.Threads);
        RowKernels.ForRows(r.Rows, r.Threads, row =>
        {
            var gate = r.GateUp.AsSpan(row * 2 * n, n);
            var up = r.GateUp.AsSpan(row * 2 * n + n, n);
            var a = r.Activated.AsSpan(row * n, n);
            TensorPrimitives.Sigmoid(gate, a);             // silu(g) = g * sigmoid(g)
            TensorPrimitives.Multiply(a, gate, a);
            TensorPrimitives.Multiply(a, up, a);
        });
        RowKernels.Gemm(down_proj.weight!, _downQ, down_proj.bias, r.Used(r.Activated, n), output, r.Rows, r.Threads);
    }

    internal bool IsFused => _gateUp is not null;
}
