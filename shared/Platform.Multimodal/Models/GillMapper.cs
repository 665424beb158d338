using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Multimodal.Models;

/// <summary>
/// GILL's GILLMapper (kohjingyu/gill, models.py): Linear from the [IMG] tokens' hidden states and input embeddings
/// into the mapper width, a small Transformer whose learned queries attend to them (GILL: 77 queries, nn.Transformer),
/// and a Linear out to the decoder's conditioning space. Here queries = condition_slots and out = condition_dim.
/// </summary>
public sealed class GillMapper : nn.Module<Tensor, Tensor, Tensor>
{
    public readonly Linear in_proj, out_proj;
    public readonly Parameter queries;
    public readonly ModuleList<MapperLayer> layers;
    public readonly LayerNorm norm;

    public GillMapper(MultimodalConfig config) : base(nameof(GillMapper))
    {
        in_proj = nn.Linear(2 * config.LmHiddenSize, config.MapperDim);
        queries = nn.Parameter(randn(config.ConditionSlots, config.MapperDim) * 0.02);
        layers = new ModuleList<MapperLayer>(Enumerable.Range(0, config.MapperLayers).Select(_ => new MapperLayer(config.MapperDim, config.MapperHeads)).ToArray());
        norm = nn.LayerNorm(config.MapperDim);
        out_proj = nn.Linear(config.MapperDim, config.ConditionDim);
        RegisterComponents();
    }

    /// <summary>hidden, embeds [B, r, H] -> conditioning [B, slots, dim].</summary>
    public override Tensor forward(Tensor hiddenStates, Tensor inputEmbeddings)
    {
        using var scope = NewDisposeScope();
        var memory = in_proj.forward(cat([hiddenStates, inputEmbeddings], -1));
        var x = queries.unsqueeze(0).expand(memory.shape[0], -1, -1);
        foreach (var layer in layers) x = layer.Forward(x, memory);
        return out_proj.forward(norm.forward(x)).MoveToOuterDisposeScope();
    }
}

/// <summary>One pre-norm Transformer decoder layer: query self-attention, cross-attention to the [IMG] tokens, MLP.</summary>
public sealed class MapperLayer : nn.Module
{
    public readonly LayerNorm self_attn_norm, cross_attn_norm, mlp_norm;
    public readonly Attention self_attn, cross_attn;
    public readonly Linear fc1, fc2;

    public MapperLayer(int dim, int heads) : base(nameof(MapperLayer))
    {
        self_attn_norm = nn.LayerNorm(dim);
        cross_attn_norm = nn.LayerNorm(dim);
        mlp_norm = nn.LayerNorm(dim);
        self_attn = new Attention(dim, heads);
        cross_attn = new Attention(dim, heads);
        fc1 = nn.Linear(dim, 4 * dim);
        fc2 = nn.Linear(4 * dim, dim);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor memory)
    {
        var h = self_attn_norm.forward(x);
        x = x + self_attn.Forward(h, h);
        x = x + cross_attn.Forward(cross_attn_norm.forward(x), memory);
        return x + fc2.forward(nn.functional.gelu(fc1.forward(mlp_norm.forward(x))));
    }
}

/// <summary>Multi-head attention with separate q/k/v/o projections (no mask: queries see all [IMG] tokens).</summary>
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

    public Tensor Forward(Tensor x, Tensor memory)
    {
        long b = x.shape[0], t = x.shape[1], s = memory.shape[1], d = x.shape[2];
        Tensor Split(Tensor y, long len) => y.reshape(b, len, _heads, d / _heads).transpose(1, 2);
        var q = Split(q_proj.forward(x), t);
        var k = Split(k_proj.forward(memory), s);
        var v = Split(v_proj.forward(memory), s);
        var o = nn.functional.scaled_dot_product_attention(q, k, v);
        return o_proj.forward(o.transpose(1, 2).reshape(b, t, d));
    }
}
