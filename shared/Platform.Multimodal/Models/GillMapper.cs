using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Multimodal.Models;

/// <summary>
/// GILL's GILLMapper (kohjingyu/gill, models.py): Linear from the [IMG] tokens' hidden states and input embeddings
/// into the mapper width, a small Transformer whose learned queries attend to them (GILL: 77 queries, nn.Transformer),
/// and a Linear out. Two departures, both for composing colour/shape pairs never seen together:
/// - one query per (object slot, attribute) instead of one per conditioning row, and the Linear out gives each query
///   only its own attribute's logits (<see cref="ConditionEncoder.GroupSizes"/>); the layers have no self-attention
///   between queries, so the colour readout cannot depend on what the shape query found.
/// - with <see cref="MultimodalConfig.MapperContext"/> &gt; 0 the memory also holds the answer's words right before
///   the [IMG] tokens (their hidden states and input embeddings, the words that restate the picture), each row
///   with a learned embedding of its distance from the end. The small LM's [IMG] states read the shape of a
///   colour/shape pair it never saw right only about 60% of the time, while it restates such a pair right almost
///   always; the restating words' input embeddings name colour and shape independently of each other.
/// - the output is per-attribute logits, turned into the decoder's conditioning by the frozen condition encoder's
///   tables (<see cref="ConditionEncoder.FromLogits"/>, a softmax-weighted sum of attribute embeddings). Regressing
///   the 64 conditioning numbers directly left an MSE of ~0.37 on seen pairs and put held-out pairs on seen colours.
/// </summary>
public sealed class GillMapper : nn.Module<Tensor, Tensor, Tensor>
{
    public readonly Linear in_proj, out_proj;
    public readonly Parameter queries, memory_pos;
    public readonly ModuleList<MapperLayer> layers;
    public readonly LayerNorm memory_norm, norm;
    private readonly float[] _groupMask;
    private readonly int _slots;

    public GillMapper(MultimodalConfig config) : base(nameof(GillMapper))
    {
        _slots = config.ConditionSlots;
        var groups = ConditionEncoder.GroupSizes;
        in_proj = nn.Linear(2 * config.LmHiddenSize, config.MapperDim);
        queries = nn.Parameter(randn(config.ConditionSlots * groups.Length, config.MapperDim) * 0.02);
        // Row k from the end of the memory (the [IMG] tokens are always the last r rows). Zeros: no draw from the
        // generator, and a memory of [IMG] rows whose embedding is left untrained is exactly GILL's.
        memory_pos = nn.Parameter(zeros(config.MapperContext + config.ImageTokens, config.MapperDim));
        layers = new ModuleList<MapperLayer>(Enumerable.Range(0, config.MapperLayers).Select(_ => new MapperLayer(config.MapperDim, config.MapperHeads)).ToArray());
        // nn.Transformer normalises its memory in the encoder; the LM's last-layer states are not normalised, and
        // their scale would otherwise set the cross-attention's softmax temperature.
        memory_norm = nn.LayerNorm(config.MapperDim);
        norm = nn.LayerNorm(config.MapperDim);
        out_proj = nn.Linear(config.MapperDim, ConditionEncoder.LogitWidth);
        // [attributes, LogitWidth]: row g is 1 on attribute g's logits (a constant, kept as an array so that it is
        // neither a parameter nor a buffer in the state dict).
        var mask = new float[groups.Length * ConditionEncoder.LogitWidth];
        for (int g = 0, offset = 0; g < groups.Length; offset += groups[g], g++)
            for (int v = 0; v < groups[g]; v++) mask[g * ConditionEncoder.LogitWidth + offset + v] = 1;
        _groupMask = mask;
        RegisterComponents();
    }

    /// <summary>hidden, embeds [B, S, H] (the [IMG] tokens last, S at most context + r) -> attribute logits
    /// [B, slots, <see cref="ConditionEncoder.LogitWidth"/>].</summary>
    public override Tensor forward(Tensor hiddenStates, Tensor inputEmbeddings) => Forward(hiddenStates, inputEmbeddings, null);

    /// <summary>As <see cref="forward"/>, with <paramref name="keep"/> [B, S] bool false on padding rows (memories of
    /// several answers padded at the front to one length).</summary>
    public Tensor Forward(Tensor hiddenStates, Tensor inputEmbeddings, Tensor? keep)
    {
        using var scope = NewDisposeScope();
        long rows = hiddenStates.shape[1];
        if (rows > memory_pos.shape[0]) throw new ArgumentException($"mapper memory of {rows} rows exceeds mapper_context + image_tokens = {memory_pos.shape[0]}");
        var memory = memory_norm.forward(in_proj.forward(cat([hiddenStates, inputEmbeddings], -1)) + memory_pos[^(int)rows..]);
        long b = memory.shape[0];
        var keepMask = keep?.view(b, 1, 1, rows);
        var x = queries.unsqueeze(0).expand(b, -1, -1);
        foreach (var layer in layers) x = layer.Forward(x, memory, keepMask);
        int groups = ConditionEncoder.GroupSizes.Length;
        var logits = out_proj.forward(norm.forward(x)).reshape(b, _slots, groups, -1);
        var mask = tensor(_groupMask, [groups, ConditionEncoder.LogitWidth], device: logits.device);
        return (logits * mask).sum(2).MoveToOuterDisposeScope();
    }
}

/// <summary>One pre-norm Transformer decoder layer without query self-attention (see <see cref="GillMapper"/>):
/// cross-attention to the [IMG] tokens, MLP.</summary>
public sealed class MapperLayer : nn.Module
{
    public readonly LayerNorm cross_attn_norm, mlp_norm;
    public readonly Attention cross_attn;
    public readonly Linear fc1, fc2;

    public MapperLayer(int dim, int heads) : base(nameof(MapperLayer))
    {
        cross_attn_norm = nn.LayerNorm(dim);
        mlp_norm = nn.LayerNorm(dim);
        cross_attn = new Attention(dim, heads);
        fc1 = nn.Linear(dim, 4 * dim);
        fc2 = nn.Linear(4 * dim, dim);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor memory, Tensor? mask = null)
    {
        x = x + cross_attn.Forward(cross_attn_norm.forward(x), memory, mask);
        return x + fc2.forward(nn.functional.gelu(fc1.forward(mlp_norm.forward(x))));
    }
}

/// <summary>Multi-head attention with separate q/k/v/o projections; queries see every memory row the mask keeps.</summary>
public sealed class Attention : nn.Module
{
    public readonly Linear q_proj, k_proj, v_proj, o_proj;
    private readonly int _heads;

    public Attention(int dim, int heads) : base(nameof(Attention))
    {
        if (dim % heads != 0) throw new ArgumentException($"mapper_dim {dim} is not divisible by mapper_heads {heads}");
        _heads = heads;
        q_proj = nn.Linear(dim, dim);
        k_proj = nn.Linear(dim, dim);
        v_proj = nn.Linear(dim, dim);
        o_proj = nn.Linear(dim, dim);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor memory, Tensor? mask = null)
    {
        long b = x.shape[0], t = x.shape[1], s = memory.shape[1], d = x.shape[2];
        Tensor Split(Tensor y, long len) => y.reshape(b, len, _heads, d / _heads).transpose(1, 2);
        var q = Split(q_proj.forward(x), t);
        var k = Split(k_proj.forward(memory), s);
        var v = Split(v_proj.forward(memory), s);
        var o = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: mask);
        return o_proj.forward(o.transpose(1, 2).reshape(b, t, d));
    }
}
