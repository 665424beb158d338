using static TorchSharp.torch;

namespace Platform.Inference.Models.Llama;

/// <summary>
/// Buffers and per-step state of the single-token decode path (<see cref="LlamaForCausalLM.Forward"/> takes it for
/// one sequence, one new token, CPU float32): sized once from the config, reused every step.
/// </summary>
internal sealed class RowDecode
{
    public RowDecode(LlamaConfig config)
    {
        int h = config.HiddenSize, d = config.HeadDimension;
        Hidden = new float[h];
        Normed = new float[h];
        Projected = new float[h];
        Qkv = new float[(config.NumAttentionHeads + 2 * config.KeyValueHeads) * d];
        Attention = new float[config.NumAttentionHeads * d];
        GateUp = new float[2 * config.IntermediateSize];
        Activated = new float[config.IntermediateSize];
        HeadScratch = new float[d];
        _groups = config.NumAttentionHeads / config.KeyValueHeads;
    }

    private readonly int _groups;

    public float[] Hidden { get; }
    public float[] Normed { get; }
    public float[] Projected { get; }
    public float[] Qkv { get; }
    public float[] Attention { get; }
    public float[] GateUp { get; }
    public float[] Activated { get; }
    public float[] HeadScratch { get; }
    /// <summary>Attention scores of one kv group's query heads, grown to the longest context seen.</summary>
    public float[] Scores { get; private set; } = [];

    /// <summary>This step: cache slot, cache index (= rotary position) of the new token, threads for GEMVs.</summary>
    public int Slot { get; private set; }
    public int Position { get; private set; }
    public int Threads { get; private set; }
    public KvCache Cache { get; private set; } = null!;
    /// <summary>cos and sign-folded sin rows at <see cref="Position"/> [head_dim].</summary>
    public Tensor Cos { get; private set; } = null!;
    public Tensor Sin { get; private set; } = null!;

    public void Begin(KvCache cache, int slot, int position, Tensor cos, Tensor sin, int threads)
    {
        Cache = cache;
        Slot = slot;
        Position = position;
        Cos = cos;
        Sin = sin;
        Threads = threads;
        int needed = (position + 1) * _groups;
        if (Scores.Length < needed) Scores = new float[Math.Max(needed, 2 * Scores.Length)];
    }
}
