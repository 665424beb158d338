using Platform.Inference.Models.Llama;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Inference.Models.Phi3;

/// <summary>
/// Phi3MLP (modeling_phi3.py): down_proj(up * silu(gate)) where <c>gate_up_proj</c> [2 x intermediate, hidden] holds
/// the gate rows then the up rows (the reference splits its output with chunk(2)); no biases. The engine's fused
/// Llama MLP is that same layout.
/// </summary>
public sealed class Phi3MLP : LlamaMLP
{
    public readonly Linear gate_up_proj;

    public Phi3MLP(Phi3Config config) : this(config, nn.Linear(config.HiddenSize, 2 * config.IntermediateSize, hasBias: false))
    {
    }

    private Phi3MLP(Phi3Config config, Linear gateUp) : base(config, gateUp)
    {
        gate_up_proj = gateUp;
        register_module(nameof(gate_up_proj), gate_up_proj);
    }
}
