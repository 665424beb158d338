using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Inference.Models.Llama;

/// <summary>LlamaModel: embed_tokens, the decoder layers and the final norm (modeling_llama.py).</summary>
public sealed class LlamaModel : nn.Module
{
    public readonly Embedding embed_tokens;
    public readonly ModuleList<DecoderLayer> layers;
    public readonly LlamaRMSNorm norm;
    private readonly LlamaConfig _config;
    private readonly LlamaRotaryEmbedding _rotary;

    public LlamaModel(LlamaConfig config) : base(nameof(LlamaModel))
    {
        _config = config;
        embed_tokens = nn.Embedding(config.VocabSize, config.HiddenSize);
        layers = new ModuleList<DecoderLayer>(Enumerable.Range(0, config.NumHiddenLayers).Select(i => DecoderLayers.Create(config, i)).ToArray());
        norm = new LlamaRMSNorm(config.HiddenSize, config.RmsNormEps);
        _rotary = new LlamaRotaryEmbedding(config);
        RegisterComponents();
    }

    public LlamaRotaryEmbedding RotaryEmbedding => _rotary;

    /// <summary>Runs embeddings (or given input embeddings) through all layers.</summary>
    /// <returns>The last decoder layer's output BEFORE the final norm (GILL's hidden_states[-1] convention) and
    /// the normalised states.</returns>
    public (Tensor LastLayer, Tensor Normed) Forward(LlamaInputs inputs)
    {
        using var scope = NewDisposeScope();
        var x = inputs.InputsEmbeds ?? embed_tokens.forward(inputs.InputIds ?? throw new ArgumentException("InputIds or InputsEmbeds is required"));
        long b = x.shape[0], t = x.shape[1];
        var device = x.device;
        int groups = _config.NumAttentionHeads / _config.KeyValueHeads;

        // Cache index of each new token: start[b] + t (or t without a cache).
        Tensor? tokenIndex = null;
        long keyLength;
        Tensor? writeIndex = null;
        var cw = inputs.Cache;
        if (cw is not null)
        {
            if (cw.Starts.Length != b) throw new ArgumentException($"cache starts has {cw.Starts.Length} rows, batch has {b}");
            keyLength = cw.KeyLength(t);
            if (cw.FirstSlot + b > cw.Cache.Slots || keyLength > cw.Cache.MaxTokens)
                throw new ArgumentException($"cache write out of range (slots {cw.FirstSlot}+{b} of {cw.Cache.Slots}, tokens {keyLength} of {cw.Cache.MaxTokens})");
            for (int row = 0; row < b; row++) cw.Cache.Ensure(cw.FirstSlot + row, cw.Starts[row] + (cw.Lengths?[row] ?? t));
        }
        else keyLength = t;

        // Single-sequence single-token decode (the latency-critical path): no index tensors, no mask.
        bool singleDecode = cw is not null && b == 1 && t == 1 && inputs.PositionIds is null && inputs.AttentionMask is null;
        Tensor cos, sin;
        Tensor? mask = null;
        if (singleDecode)
        {
            (cos, sin) = _rotary.At(cw!.Starts[0], device);
        }
        else
        {
            tokenIndex = cw is not null
                ? tensor(cw.Starts, device: device).view(b, 1) + arange(t, device: device).view(1, t)
                : arange(t, device: device).view(1, t).expand(b, t);
            var positionIds = inputs.PositionIds ?? tokenIndex;
            long maxPosition = inputs.MaxPosition ?? positionIds.max().item<long>();
            (cos, sin) = _rotary.Gather(positionIds, maxPosition);

            Tensor allowed = inputs.AttentionMask is { } m
                ? m.to_type(ScalarType.Bool)
                : arange(keyLength, device: device).view(1, 1, keyLength) <= tokenIndex.unsqueeze(-1);   // causal over cache indices
            if (allowed.shape[0] != b || allowed.shape[1] != t || allowed.shape[2] != keyLength)
                throw new ArgumentException($"attention mask must be [{b}, {t}, {keyLength}], got [{string.Join(", ", allowed.shape)}]");
            mask = zeros([b, t, keyLength], device: device).masked_fill_(allowed.logical_not(), float.NegativeInfinity).unsqueeze(1);
            if (groups > 1 && t > 1) mask = mask.repeat(1, 1, groups, 1);
        }

        Tensor? readIndex = null;
        if (cw is not null)
        {
            writeIndex = tensor(cw.Cache.WriteIndex(cw.FirstSlot, cw.Starts, (int)t, cw.Lengths), device: device);
            readIndex = tensor(cw.Cache.ReadIndex(cw.FirstSlot, (int)b, keyLength), device: device);
        }
        var ctx = new AttentionContext { Cos = cos, Sin = sin, Mask = mask, Cache = inputs.Cache, KeyLength = keyLength, WriteIndex = writeIndex, ReadIndex = readIndex };
        foreach (var layer in layers) x = layer.Forward(x, ctx);
        var normed = norm.forward(x);
        return (x.MoveToOuterDisposeScope(), normed.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Span decode (<see cref="RowKernels"/>) of one new token per row: the embedding rows (or the given input
    /// embeddings [rows, 1, hidden]), every layer, and the final norm into <see cref="RowDecode.Normed"/>.
    /// </summary>
    /// <param name="newEmbeddings">[N, hidden] rows of the ids from the vocabulary size on (an image adapter's
    /// new tokens), or null.</param>
    internal void DecodeRows(Tensor? inputIds, Tensor? inputsEmbeds, RowDecode r, Tensor? newEmbeddings = null)
    {
        int h = _config.HiddenSize;
        var x = r.Used(r.Hidden, h);
        if (inputsEmbeds is not null) RowKernels.Floats(inputsEmbeds).CopyTo(x);
        else
        {
            var table = RowKernels.Floats(embed_tokens.weight!);
            var added = newEmbeddings is null ? default : RowKernels.Floats(newEmbeddings);
            long size = _config.VocabSize + (newEmbeddings?.shape[0] ?? 0);
            var ids = inputIds!.data<long>();
            for (int row = 0; row < r.Rows; row++)
            {
                long id = ids[row];
                if (id < 0 || id >= size) throw new ArgumentOutOfRangeException(nameof(inputIds), $"token id {id} is outside the vocabulary (0..{size - 1})");
                var source = id < _config.VocabSize ? table.Slice((int)(id * h), h) : added.Slice((int)((id - _config.VocabSize) * h), h);
                source.CopyTo(x.Slice(row * h, h));
            }
        }
        var rot = r.RotaryDim;
        for (int row = 0; row < r.Rows; row++)
        {
            var (cos, sin) = _rotary.At(r.RotaryPositions[row], CPU);
            RowKernels.Floats(cos).CopyTo(r.Cos.AsSpan(row * rot, rot));
            RowKernels.Floats(sin).CopyTo(r.Sin.AsSpan(row * rot, rot));
        }
        foreach (var layer in layers) layer.DecodeRows(r, h);
        norm.ForwardRows(x, r.Used(r.Normed, h));
    }

    /// <summary>True when every layer has fused weights (the single-token path needs them).</summary>
    internal bool IsFused => layers.All(l => l.IsFused);

    /// <summary>Fuses q/k/v and gate/up weights for inference (see <see cref="LlamaAttention"/>, <see cref="LlamaMLP"/>).</summary>
    internal void Fuse()
    {
        foreach (var layer in layers) layer.Fuse();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _rotary.Dispose();
        base.Dispose(disposing);
    }
}
