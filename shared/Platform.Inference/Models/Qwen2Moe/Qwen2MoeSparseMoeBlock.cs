using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Platform.Inference.Models.Llama;
using Platform.Inference.Models.Moe;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Inference.Models.Qwen2Moe;

/// <summary>
/// Qwen2MoeSparseMoeBlock (modeling_qwen2_moe.py): the routed experts (Qwen2MoeMLP at moe_intermediate_size) plus
/// a shared expert every token goes through, scaled by sigmoid(shared_expert_gate(x)) (a [1, H] Linear without bias).
/// </summary>
public sealed class Qwen2MoeSparseMoeBlock : SparseMoeBlock
{
    public readonly MoeMLP shared_expert;
    public readonly Linear shared_expert_gate;
    private float[] _shared = [], _sharedGate = [];

    public Qwen2MoeSparseMoeBlock(Qwen2MoeConfig config)
        : base(nameof(Qwen2MoeSparseMoeBlock), config, _ => new MoeMLP(config.HiddenSize, config.MoeIntermediateSize))
    {
        shared_expert = new MoeMLP(config.HiddenSize, config.SharedExpertIntermediateSize);
        shared_expert_gate = nn.Linear(config.HiddenSize, 1, hasBias: false);
        RegisterComponents();
    }

    private protected override Tensor Extra(Tensor x)
    {
        var g = is_grad_enabled() ? shared_expert_gate.forward(x) : RowKernels.Linear(x, shared_expert_gate.weight!, null);
        return nn.functional.sigmoid(g) * shared_expert.forward(x);
    }

    private protected override void FuseExtra() => shared_expert.Fuse();
    internal override bool IsFused => base.IsFused && shared_expert.IsFused;

    private protected override void ExtraRows(ReadOnlySpan<float> x, Span<float> output, RowDecode r)
    {
        int rows = r.Rows, h = (int)shared_expert_gate.weight!.shape[1];
        if (_shared.Length < rows * h) { _shared = new float[rows * h]; _sharedGate = new float[rows]; }
        shared_expert.ForwardRows(x, _shared.AsSpan(0, rows * h), rows, r.Threads);
        RowKernels.Gemm(shared_expert_gate.weight!, null, x, _sharedGate.AsSpan(0, rows), rows, r.Threads);
        TensorPrimitives.Sigmoid(_sharedGate.AsSpan(0, rows), _sharedGate.AsSpan(0, rows));
        for (int row = 0; row < rows; row++)
        {
            var o = output.Slice(row * h, h);
            TensorPrimitives.MultiplyAdd(_shared.AsSpan(row * h, h), _sharedGate[row], o, o);
        }
    }
}
