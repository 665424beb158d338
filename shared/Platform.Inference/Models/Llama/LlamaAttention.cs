using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Inference.Models.Llama;

/// <summary>
/// LlamaAttention (modeling_llama.py) with grouped-query attention. Qwen2 is the same with q/k/v biases.
/// K/V heads are not repeated: the query heads of one group are folded into the query length
/// ([B, kv_heads, groups*T, head_dim]) so one scaled_dot_product_attention call serves GQA without copying K/V.
/// </summary>
public partial class LlamaAttention : nn.Module
{
    public readonly Linear q_proj;
    public readonly Linear k_proj;
    public readonly Linear v_proj;
    public readonly Linear o_proj;
    private readonly int _heads, _kvHeads, _headDim, _layerIndex;
    private Tensor? _qkv, _qkvBias;

    public LlamaAttention(LlamaConfig config, int layerIndex) : this(config, layerIndex, fusedQkv: null)
    {
    }

    /// <summary>
    /// With <paramref name="fusedQkv"/> (a checkpoint that stores one [q+k+v, H] projection, Phi3Attention's
    /// qkv_proj): q/k/v_proj are not registered (the state dict holds the subclass's fused module) and are views of
    /// its rows, so the code that reads them sees the same weights without a copy.
    /// </summary>
    private protected LlamaAttention(LlamaConfig config, int layerIndex, Linear? fusedQkv) : base(nameof(LlamaAttention))
    {
        _heads = config.NumAttentionHeads;
        _kvHeads = config.KeyValueHeads;
        _headDim = config.HeadDimension;
        _layerIndex = layerIndex;
        q_proj = nn.Linear(config.HiddenSize, _heads * _headDim, hasBias: config.HasQkvBias);
        k_proj = nn.Linear(config.HiddenSize, _kvHeads * _headDim, hasBias: config.HasQkvBias);
        v_proj = nn.Linear(config.HiddenSize, _kvHeads * _headDim, hasBias: config.HasQkvBias);
        o_proj = nn.Linear(_heads * _headDim, config.HiddenSize, hasBias: config.HasOutputBias);
        _fusedCheckpoint = fusedQkv;
        if (fusedQkv is null) RegisterComponents();
        else
        {
            Fusion.ViewRows(fusedQkv, [q_proj, k_proj, v_proj]);
            register_module(nameof(o_proj), o_proj);
        }
    }

    private readonly Linear? _fusedCheckpoint;

    /// <summary>A fused checkpoint's modules are registered by hand: TorchSharp's field reflection (run again when a
    /// parent registers this module) would add q/k/v_proj and the fused field, which the checkpoint does not hold.</summary>
    protected override void RegisterComponents()
    {
        if (_fusedCheckpoint is null) base.RegisterComponents();
    }

    /// <summary>One [q+k+v, H] weight (one matmul per step); q/k/v_proj weights become views of it (of the
    /// checkpoint's own fused projection when it has one).</summary>
    internal void Fuse()
    {
        if (_qkv is not null) return;
        using var noGrad = no_grad();
        if (_fusedCheckpoint is { } f)
        {
            // Views again: moving the module to a device replaces the fused parameter.
            Fusion.ViewRows(f, [q_proj, k_proj, v_proj]);
            (_qkv, _qkvBias) = (f.weight!, f.bias);
        }
        else (_qkv, _qkvBias) = Fusion.FuseRows([q_proj, k_proj, v_proj]);
    }

    /// <param name="x">[B, T, H] normalised hidden states.</param>
    /// <param name="ctx">Positions, mask and cache shared by all layers for this forward.</param>
    public Tensor Forward(Tensor x, AttentionContext ctx)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        int groups = _heads / _kvHeads;
        Tensor qk, v;
        if (_qkv is not null && !is_grad_enabled())
        {
            var qkv = AdjustProjections(RowKernels.Linear(x, _qkv, _qkvBias, _qkvQ)).view(b, t, _heads + 2 * _kvHeads, _headDim);
            // Rotary on q and k together: one pass over [B, T, heads + kv_heads, D].
            qk = LlamaRotaryEmbedding.Apply(qkv.narrow(2, 0, _heads + _kvHeads), ctx.Cos, ctx.Sin);
            v = qkv.narrow(2, _heads + _kvHeads, _kvHeads);
        }
        else
        {
            var (qf, kf, vf) = AdjustProjections(Project(x));
            var q = qf.view(b, t, _heads, _headDim);
            var k = kf.view(b, t, _kvHeads, _headDim);
            qk = LlamaRotaryEmbedding.Apply(cat([q, k], 2), ctx.Cos, ctx.Sin);
            v = vf.view(b, t, _kvHeads, _headDim);
        }
        var query = qk.narrow(2, 0, _heads);
        var key = qk.narrow(2, _heads, _kvHeads).transpose(1, 2);   // [B, kvH, T, D]
        var value = v.transpose(1, 2);                               // [B, kvH, T, D]

        Tensor keys, values;
        if (ctx.Cache is { } cw)
        {
            // Paged cache: the new keys/values go to their blocks (padding to scratch), then the batch's keys
            // 0 .. KeyLength-1 are gathered through the block tables into [B, kvH, KeyLength, D].
            var kc = cw.Cache.Keys[_layerIndex].view(-1, _headDim);
            var vc = cw.Cache.Values[_layerIndex].view(-1, _headDim);
            kc.index_copy_(0, ctx.WriteIndex!, key.reshape(-1, _headDim));
            vc.index_copy_(0, ctx.WriteIndex!, value.reshape(-1, _headDim));
            keys = kc.index_select(0, ctx.ReadIndex!).view(b, _kvHeads, ctx.KeyLength, _headDim);
            values = vc.index_select(0, ctx.ReadIndex!).view(b, _kvHeads, ctx.KeyLength, _headDim);
        }
        else
        {
            keys = key;
            values = value;
        }

        // GQA without repeating K/V: the query heads of one kv group become that group's query rows.
        // [B, T, H, D] -> [B, kvH, groups*T, D], head h = g*groups + i uses kv head g (HF repeat_kv order).
        Tensor output;
        if (t == 1)
        {
            // Decode: [B, 1, H, D] is already [B, kvH, groups, D] in memory order; views only.
            var attn = nn.functional.scaled_dot_product_attention(query.reshape(b, _kvHeads, groups, _headDim), keys, values, ctx.Mask);
            output = attn.reshape(b, 1, _heads * _headDim);
        }
        else
        {
            var q2 = query.reshape(b, t, _kvHeads, groups, _headDim).permute(0, 2, 3, 1, 4).reshape(b, _kvHeads, groups * t, _headDim);
            var attn = nn.functional.scaled_dot_product_attention(q2, keys, values, ctx.Mask);
            output = attn.view(b, _kvHeads, groups, t, _headDim).permute(0, 3, 1, 2, 4).reshape(b, t, _heads * _headDim);
        }
        return (is_grad_enabled() ? o_proj.forward(output) : RowKernels.Linear(output, o_proj.weight!, o_proj.bias, _oQ)).MoveToOuterDisposeScope();
    }

    internal bool IsFused => _qkv is not null;

    /// <summary>A family's step between the projections and the rotary (OLMoE's q/k norms); here none. On the fused
    /// [..., q+k+v] projection, on the three separate ones, and on span rows [rows, q+k+v].</summary>
    private protected virtual Tensor AdjustProjections(Tensor qkv) => qkv;
    private (Tensor Q, Tensor K, Tensor V) AdjustProjections((Tensor Q, Tensor K, Tensor V) p) => AdjustProjections(p.Q, p.K, p.V);

    /// <summary>The unfused (differentiable) projections; through the checkpoint's fused module when it has one, so
    /// gradients reach its parameter.</summary>
    private (Tensor Q, Tensor K, Tensor V) Project(Tensor x)
    {
        if (_fusedCheckpoint is not { } f) return (q_proj.forward(x), k_proj.forward(x), v_proj.forward(x));
        var qkv = f.forward(x);
        long q = _heads * _headDim, kv = _kvHeads * _headDim;
        return (qkv.narrow(-1, 0, q), qkv.narrow(-1, q, kv), qkv.narrow(-1, q + kv, kv));
    }
    private protected virtual (Tensor Q, Tensor K, Tensor V) AdjustProjections(Tensor q, Tensor k, Tensor v) => (q, k, v);
    private protected virtual void AdjustProjectionRows(Span<float> qkv, int rows) { }

    /// <summary>
    /// Span decode of one new token per row: the fused q/k/v GEMM over all rows, then per row rotary on q and k
    /// heads, the new k/v written into the row's cache slot at its position, each query head attending over its kv
    /// head's cached keys (h / groups, HF repeat_kv order); then o_proj over all rows. Same math as
    /// <see cref="Forward"/> with T = 1, without building a mask (each row attends to its own 0..position).
    /// </summary>
    internal void DecodeRows(ReadOnlySpan<float> x, Span<float> output, RowDecode r)
    {
        int d = _headDim, groups = _heads / _kvHeads, width = r.QkvWidth;
        var qkvAll = r.Used(r.Qkv, width);
        RowKernels.Gemm(_qkv!, _qkvQ, _qkvBias, x, qkvAll, r.Rows, r.Threads);
        AdjustProjectionRows(qkvAll, r.Rows);
        // Rows are independent (own cache slot, own output rows, own scratch): spread them over the threads.
        RowKernels.ForRows(r.Rows, r.Threads, row => AttendRow(row, r));
        RowKernels.Gemm(o_proj.weight!, _oQ, o_proj.bias, r.Used(r.Attention, _heads * d), output, r.Rows, r.Threads);
    }

    private void AttendRow(int row, RowDecode r)
    {
        int d = _headDim, groups = _heads / _kvHeads, width = r.QkvWidth;
        var cache = r.Cache;
        var keys = RowKernels.Floats(cache.Keys[_layerIndex]);
        var values = RowKernels.Floats(cache.Values[_layerIndex]);
        int bs = cache.BlockTokens, shift = System.Numerics.BitOperations.Log2((uint)bs);
        long perHead = (long)bs * d, blockStride = _kvHeads * perHead;
        float scale = 1f / MathF.Sqrt(d);
        var qkv = r.Qkv.AsSpan(row * width, width);
        int rot = r.RotaryDim;   // leading dims of a head that turn (all unless partial rotary)
        var cos = r.Cos.AsSpan(row * rot, rot);
        var sin = r.Sin.AsSpan(row * rot, rot);
        var scratch = r.HeadScratch.AsSpan(row * d, rot);
        for (int h = 0; h < _heads + _kvHeads; h++) RowKernels.Rotate(qkv.Slice(h * d, rot), cos, sin, scratch);
        int position = (int)r.Positions[row], length = position + 1;
        var table = cache.Table(r.FirstSlot + row);
        long at = table[position >> shift] * blockStride + (position & (bs - 1)) * d;
        var attention = r.Attention.AsSpan(row * _heads * d, _heads * d);
        var scores = r.ScoresOf(row);
        for (int g = 0; g < _kvHeads; g++)
        {
            long head = g * perHead;
            qkv.Slice((_heads + g) * d, d).CopyTo(keys.Slice((int)(at + head), d));
            qkv.Slice((_heads + _kvHeads + g) * d, d).CopyTo(values.Slice((int)(at + head), d));
            // Query heads g*groups .. g*groups+groups-1 share kv head g; its keys are read block by block.
            RowKernels.AttendGroupPaged(qkv.Slice(g * groups * d, groups * d), keys, values, table, shift, blockStride, head,
                groups, d, length, scale, scores, attention.Slice(g * groups * d, groups * d));
        }
    }
}

/// <summary>Per-forward state shared by all layers: rotary cos/sin, the additive mask, and the cache write.</summary>
public sealed class AttentionContext
{
    /// <summary>[B, T, 1, head_dim].</summary>
    public required Tensor Cos { get; init; }
    public required Tensor Sin { get; init; }
    /// <summary>Additive float mask [B, 1, groups*T, KeyLength] (0 = attend, -inf = blocked), [B, 1, 1, KeyLength]
    /// when T = 1 (broadcast over the query rows); null = attend to every key (single-sequence decode).</summary>
    public Tensor? Mask { get; init; }
    public CacheWrite? Cache { get; init; }
    public long KeyLength { get; init; }
    /// <summary>Flat indices into a layer's pool viewed as [-1, head_dim]: where the [B, kvH, T] new keys go, and the
    /// [B, kvH, KeyLength] keys attended (<see cref="KvCache.WriteIndex"/>, <see cref="KvCache.ReadIndex"/>).</summary>
    public Tensor? WriteIndex { get; init; }
    public Tensor? ReadIndex { get; init; }
}
