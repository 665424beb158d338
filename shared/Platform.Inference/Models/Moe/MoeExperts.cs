using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Inference.Models.Moe;

/// <summary>
/// The stacked expert layout of transformers 5 (MixtralExperts, OlmoeExperts, Qwen2MoeExperts are this module):
/// <c>gate_up_proj</c> [E, 2I, H], gate rows first (the reference splits the output with chunk(2)), and
/// <c>down_proj</c> [E, H, I].
/// </summary>
public sealed class MoeExperts : nn.Module
{
    public readonly Parameter gate_up_proj;
    public readonly Parameter down_proj;

    public MoeExperts(int experts, int hidden, int intermediate) : base(nameof(MoeExperts))
    {
        // Same init scale as an nn.Linear of the same shape (kaiming-uniform bound 1/sqrt(fan_in)).
        gate_up_proj = new Parameter((rand(experts, 2 * intermediate, hidden) * 2 - 1) / Math.Sqrt(hidden));
        down_proj = new Parameter((rand(experts, hidden, intermediate) * 2 - 1) / Math.Sqrt(intermediate));
        RegisterComponents();
    }
}
