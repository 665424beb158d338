using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Inference.Models.Llama;

/// <summary>
/// LlamaForCausalLM (also serves Qwen2ForCausalLM and MistralForCausalLM): model + lm_head. With
/// tie_word_embeddings the head reuses model.embed_tokens.weight and has no lm_head field, like HF checkpoints
/// that omit lm_head.weight. <see cref="forward(Tensor)"/> is the plain differentiable training path.
/// </summary>
public sealed partial class LlamaForCausalLM : nn.Module<Tensor, Tensor>
{
    public readonly LlamaModel model;
    public readonly Linear? lm_head;

    public LlamaForCausalLM(LlamaConfig config) : base(nameof(LlamaForCausalLM))
    {
        config.Validate();
        Config = config;
        model = new LlamaModel(config);
        if (!config.TieWordEmbeddings) lm_head = nn.Linear(config.HiddenSize, config.VocabSize, hasBias: false);
        RegisterComponents();
    }

    public LlamaConfig Config { get; }

    /// <summary>The output projection [vocab, hidden] (the embedding matrix when tied).</summary>
    public Tensor LmHeadWeight => lm_head?.weight ?? model.embed_tokens.weight!;

    /// <summary>Logits [B, T, vocab] for token ids [B, T], causal, no cache (training and reference path).</summary>
    public override Tensor forward(Tensor inputIds) => Forward(new LlamaInputs { InputIds = inputIds }).Logits!;

    /// <summary>
    /// The general forward: token ids or input embeddings, optional explicit position ids and attention mask,
    /// optional KV cache write, logits at chosen positions and last-layer hidden states at chosen positions.
    /// </summary>
    public LlamaOutput Forward(LlamaInputs inputs)
    {
        if (IsQuantized && is_grad_enabled())
            throw new InvalidOperationException("this model's weights are quantized for inference: run it under no_grad");
        bool anyImage = BeginRows(inputs);
        try
        {
            if (inputs.Backend == LlamaBackend.RowKernels) return DecodeRows(inputs);
            using var scope = NewDisposeScope();
            bool imageTokens = _imageAdapter is not null && inputs.InputIds is not null;
            var (lastLayer, normed) = model.Forward(imageTokens && anyImage && inputs.InputsEmbeds is null
                ? inputs with { InputsEmbeds = EmbedTokens(inputs.InputIds!) } : inputs);
            Tensor? logits = null;
            if (!inputs.SkipLogits)
            {
                var h = inputs.LogitPositions is { } lp ? Select(normed, lp) : normed;
                logits = RowKernels.Linear(h, LmHeadWeight, null, _headQ);
                if (imageTokens) logits = AppendImageLogits(logits, h);
                logits = logits.MoveToOuterDisposeScope();
            }
            Tensor? hidden = inputs.HiddenStatePositions is { } hp ? Select(lastLayer, hp).MoveToOuterDisposeScope() : null;
            return new LlamaOutput(logits, hidden);
        }
        finally { EndRows(inputs); }
    }

    /// <summary>x [B, T, H] at positions [B, P] -> [B, P, H].</summary>
    private static Tensor Select(Tensor x, Tensor positions) =>
        x.gather(1, positions.unsqueeze(-1).expand(positions.shape[0], positions.shape[1], x.shape[2]));

    /// <summary>Fuses q/k/v and gate/up weights into single matmuls (weights become views: no extra memory).</summary>
    public void FuseForInference()
    {
        model.Fuse();
        _fused = model.IsFused;
    }

    private bool _fused;
    private RowDecode? _row;

    /// <summary>
    /// Why this model and cache cannot take <see cref="LlamaBackend.RowKernels"/> decode steps of up to
    /// <paramref name="rows"/> sequences (weights not fused, not CPU float32, too many rows); null when they can.
    /// The engine asks once, at start, and picks its decode backend from the answer.
    /// </summary>
    public string? RowKernelsUnsupported(KvCache cache, int rows)
    {
        ArgumentNullException.ThrowIfNull(cache);
        if (!_fused) return "the weights are not fused (FuseForInference)";
        if (rows > RowKernels.MaxKernelRows) return $"{rows} sequences exceed the kernels' {RowKernels.MaxKernelRows} rows";
        if (_headQ is null && !RowKernels.IsPlainCpuFloat(LmHeadWeight)) return "the output projection is not CPU float32";
        if (!RowKernels.IsPlainCpuFloat(cache.Keys[0])) return "the KV cache is not CPU float32";
        if ((long)(cache.MaxBlocks + 1) * cache.KeyValueHeads * cache.BlockTokens * cache.HeadDim > int.MaxValue) return "one layer's KV pool exceeds 2^31 floats (span indexing)";
        return null;
    }

    /// <summary>
    /// The <see cref="LlamaBackend.RowKernels"/> backend: a decode step (one new token per row, KV cache, the default
    /// mask, rotary positions by default or given per row, logits of those tokens only, inference on CPU float32 with
    /// fused weights) through
    /// <see cref="LlamaModel.DecodeRows"/>. Inputs outside that case are refused, not sent elsewhere.
    /// </summary>
    private LlamaOutput DecodeRows(LlamaInputs inputs)
    {
        static ArgumentException Refuse(string why) => new($"the RowKernels backend runs decode steps only: {why} (use LlamaBackend.Torch)");
        if (inputs.Cache is not { } cw) throw Refuse("no KV cache");
        if (RowKernelsUnsupported(cw.Cache, cw.Starts.Length) is { } reason) throw Refuse(reason);
        if (is_grad_enabled()) throw Refuse("autograd is on");
        if (inputs.AttentionMask is not null) throw Refuse("an explicit mask");
        if (inputs.HiddenStatePositions is not null || inputs.SkipLogits || inputs.LogitPositions is not null) throw Refuse("hidden states or chosen logit positions");
        var input = inputs.InputsEmbeds ?? inputs.InputIds ?? throw Refuse("no input");
        if (input.shape[1] != 1 || input.shape[0] != cw.Starts.Length) throw Refuse($"input [{string.Join(", ", input.shape)}] is not one token per cache row");
        if (inputs.InputsEmbeds is { } e && !RowKernels.IsPlainCpuFloat(e)) throw Refuse("input embeddings are not CPU float32");
        if (inputs.InputIds is { } ids && (ids.device_type != TorchSharp.DeviceType.CPU || ids.dtype != ScalarType.Int64 || !ids.is_contiguous()))
            throw Refuse("token ids are not contiguous CPU int64");
        var head = LmHeadWeight;
        int rows = cw.Starts.Length;
        if (cw.FirstSlot + rows > cw.Cache.Slots || cw.Starts.Max() + 1 > cw.Cache.MaxTokens)
            throw new ArgumentException($"cache write out of range (slots {cw.FirstSlot}+{rows} of {cw.Cache.Slots}, tokens {cw.Starts.Max() + 1} of {cw.Cache.MaxTokens})");
        // Explicit position ids turn the rotary only; each row still attends to its cache indices 0..start, the
        // default causal mask, which is what a token after a set needs.
        long[] rotary = cw.Starts;
        if (inputs.PositionIds is { } p)
        {
            if (p.device_type != TorchSharp.DeviceType.CPU || p.dtype != ScalarType.Int64 || p.dim() != 2 || p.shape[0] != rows || p.shape[1] != 1)
                throw Refuse($"position ids {p.dtype} [{string.Join(", ", p.shape)}] on {p.device_type} are not [{rows}, 1] CPU int64");
            rotary = p.contiguous().data<long>().ToArray();
            if (rotary.Min() < 0) throw new ArgumentException($"position id {rotary.Min()} is negative");
        }
        for (int row = 0; row < rows; row++) cw.Cache.Ensure(cw.FirstSlot + row, cw.Starts[row] + 1);

        var r = _row ??= new RowDecode(Config);
        lock (r)
        {
            using var scope = NewDisposeScope();
            r.Begin(cw.Cache, cw.FirstSlot, cw.Starts, rotary, get_num_threads());
            var adapter = inputs.InputIds is not null ? _imageAdapter : null;
            model.DecodeRows(inputs.InputsEmbeds is null ? inputs.InputIds : null, inputs.InputsEmbeds, r, adapter?.new_embeddings.detach());
            int vocab = (int)head.shape[0];
            var normed = r.Used(r.Normed, Config.HiddenSize);
            if (adapter is null)
            {
                var logits = empty([rows, 1, vocab]);
                RowKernels.Gemm(head, _headQ, null, normed, RowKernels.Floats(logits), rows, r.Threads);
                return new LlamaOutput(logits.MoveToOuterDisposeScope(), null);
            }
            // Base rows exactly as without the adapter, then the new head's rows, side by side in each logits row.
            var newHead = adapter.new_lm_head.detach();
            int added = (int)newHead.shape[0], width = vocab + added;
            var all = empty([rows, 1, width]);
            var baseLogits = r.Scratch(0, rows * vocab);
            var newLogits = r.Scratch(1, rows * added);
            RowKernels.Gemm(head, _headQ, null, normed, baseLogits, rows, r.Threads);
            RowKernels.Gemm(newHead, null, normed, newLogits, rows, r.Threads);
            var dst = RowKernels.Floats(all);
            for (int row = 0; row < rows; row++)
            {
                baseLogits.Slice(row * vocab, vocab).CopyTo(dst.Slice(row * width, vocab));
                newLogits.Slice(row * added, added).CopyTo(dst.Slice(row * width + vocab, added));
            }
            return new LlamaOutput(all.MoveToOuterDisposeScope(), null);
        }
    }
}

/// <summary>The implementation a forward runs on; the caller chooses, nothing switches behind its back.</summary>
public enum LlamaBackend
{
    /// <summary>Torch ops: every input form (prefill, masks, positions, hidden states, autograd, any device).</summary>
    Torch,
    /// <summary>Span kernels (<see cref="RowKernels"/>): CPU float32 decode steps, one token per sequence (position ids
    /// [rows, 1] optional, no explicit mask), up to <see cref="RowKernels.MaxKernelRows"/> sequences; other inputs are
    /// refused.</summary>
    RowKernels,
}

/// <summary>Inputs of <see cref="LlamaForCausalLM.Forward(LlamaInputs)"/>.</summary>
public sealed record LlamaInputs
{
    /// <summary>Which implementation runs this forward (<see cref="LlamaBackend.Torch"/> unless the caller picks the kernels).</summary>
    public LlamaBackend Backend { get; init; } = LlamaBackend.Torch;
    /// <summary>[B, T] int64 token ids (or use <see cref="InputsEmbeds"/>).</summary>
    public Tensor? InputIds { get; init; }
    /// <summary>[B, T, hidden] float input embeddings (visual tokens spliced in).</summary>
    public Tensor? InputsEmbeds { get; init; }
    /// <summary>[B, T] int64 rotary positions; default = cache index (start + t), or t without a cache.</summary>
    public Tensor? PositionIds { get; init; }
    /// <summary>Largest position id, when the caller knows it (saves a device sync).</summary>
    public long? MaxPosition { get; init; }
    /// <summary>[B, T, KeyLength] bool, true = may attend; default causal over cache indices.</summary>
    public Tensor? AttentionMask { get; init; }
    /// <summary>Where the new tokens go in the KV cache; null = no cache (differentiable).</summary>
    public CacheWrite? Cache { get; init; }
    /// <summary>[B, P] int64 positions (within T) whose logits are computed; null = all.</summary>
    public Tensor? LogitPositions { get; init; }
    /// <summary>[B, P] int64 positions whose last decoder layer outputs are returned, before the final RMSNorm (HF's output_hidden_states[-1] is after it).</summary>
    public Tensor? HiddenStatePositions { get; init; }
    public bool SkipLogits { get; init; }
}

/// <summary>Logits [B, P, vocab] and hidden states [B, P, hidden] (when asked).</summary>
public sealed record LlamaOutput(Tensor? Logits, Tensor? HiddenStates) : IDisposable
{
    public void Dispose()
    {
        Logits?.Dispose();
        HiddenStates?.Dispose();
    }
}
