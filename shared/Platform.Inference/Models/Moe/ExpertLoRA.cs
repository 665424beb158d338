using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Inference.Models.Moe;

/// <summary>
/// Low-rank adapters on every expert of one sparse block (Hu et al. 2021, LoRA; applied to the experts as in Dutt
/// et al. 2025): W_gate_up + (alpha / r) B_gu A_gu and W_down + (alpha / r) B_d A_d per expert, stacked
/// [E, r, H] / [E, 2I, r] / [E, r, I] / [E, H, r]. B starts at zero, so a fresh adapter changes nothing.
/// The block applies it only to the rows it is told are image positions (<see cref="SparseMoeBlock.AdapterRows"/>).
/// </summary>
public sealed class ExpertLoRA : nn.Module
{
    public readonly Parameter gate_up_A;
    public readonly Parameter gate_up_B;
    public readonly Parameter down_A;
    public readonly Parameter down_B;
    public double Scale { get; }

    public ExpertLoRA(int experts, int hidden, int intermediate, int rank, double alpha) : base(nameof(ExpertLoRA))
    {
        if (rank <= 0) throw new ArgumentOutOfRangeException(nameof(rank), "rank must be positive");
        Scale = alpha / rank;
        // A: kaiming-uniform-like, B: zeros (the LoRA paper's initialisation).
        gate_up_A = new Parameter((rand(experts, rank, hidden) * 2 - 1) / Math.Sqrt(hidden));
        gate_up_B = new Parameter(zeros(experts, 2L * intermediate, rank));
        down_A = new Parameter((rand(experts, rank, intermediate) * 2 - 1) / Math.Sqrt(intermediate));
        down_B = new Parameter(zeros(experts, hidden, rank));
        RegisterComponents();
    }

    /// <summary>Expert <paramref name="e"/> with its adapter on rows x [n, H]: silu(g) * u through the adapted down projection.</summary>
    internal Tensor Expert(int e, Tensor x, Tensor gate, Tensor up, Tensor down, int intermediate) =>
        Expert(e, x, cat([gate, up], 0), down, intermediate);

    /// <summary>The same with the expert's gate and up rows already stacked [2I, H] (the inference layout: no copy).</summary>
    internal Tensor Expert(int e, Tensor x, Tensor gateUp, Tensor down, int intermediate)
    {
        var gu = nn.functional.linear(x, gateUp) + Scale * nn.functional.linear(nn.functional.linear(x, gate_up_A[e]), gate_up_B[e]);
        var h = nn.functional.silu(gu.narrow(-1, 0, intermediate)) * gu.narrow(-1, intermediate, intermediate);
        return nn.functional.linear(h, down) + Scale * nn.functional.linear(nn.functional.linear(h, down_A[e]), down_B[e]);
    }
}
