using System.ComponentModel.DataAnnotations;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Platform.Inference.Generation;
using Platform.Inference.Loading;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;
using Platform.Inference.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Inference.Engine;

/// <summary>
/// The text-generation engine: one loaded model behind a continuous-batching scheduler. One background thread
/// owns all tensor work. Each step it (1) admits waiting requests into free KV-cache slots, (2) prefills one
/// chunk of one joining prompt, (3) runs ONE batched decode forward for every running sequence, then lets
/// finished or cancelled sequences leave. Running sequences are kept packed in the low cache slots
/// (decoding ones first, then those still prefilling) so a batch is a contiguous slot range and attention reads
/// the cache without gathering. Prompts that join together are prefilled in one forward (one row each, padded to
/// the longest), and sequences that sampled [IMG0] in the same step append their image tokens in one forward.
/// </summary>
public sealed partial class TextEngine : ITextEngine
{
    private readonly LoadedModel _model;
    private readonly EngineOptions _options;
    private readonly ILogger _logger;
    private readonly KvCache _cache;
    private readonly object _gate = new();
    private readonly Queue<Sequence> _waiting = new();
    private readonly List<Sequence> _active = new();   // index = cache slot
    private readonly AutoResetEvent _wake = new(false);
    private readonly Thread _loop;
    private readonly int[] _imageTokens;
    private readonly LlamaBackend _decodeBackend;
    private volatile bool _stopping;
    private long _promptTokensTotal, _generationTokensTotal;
    private int _runningCount;

    /// <summary>Starts a scheduler over an already loaded model; the engine takes ownership of <paramref name="model"/>.</summary>
    public TextEngine(string modelName, LoadedModel model, EngineOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        Validator.ValidateObject(options, new ValidationContext(options), validateAllProperties: true);
        ModelName = modelName;
        _model = model;
        _options = options;
        _logger = logger ?? NullLogger.Instance;
        MaxContextTokens = options.MaxContextTokens > 0 ? options.MaxContextTokens : model.Config.MaxPositionEmbeddings;
        _model.Model.FuseForInference();
        _model.Model.QuantizeForInference(Quantization.QuantTypes.Parse(options.Quantization));
        _cache = CreateCache(model, options, MaxContextTokens);
        _imageTokens = FindImageTokens(model.Tokenizer);
        // One explicit choice of decode implementation for the engine's life: the span kernels where the model and
        // cache allow them, else torch (the reason is logged). Prefill and image slots always run on torch.
        string? noKernels = _model.Model.RowKernelsUnsupported(_cache, options.MaxConcurrentSequences);
        _decodeBackend = noKernels is null ? LlamaBackend.RowKernels : LlamaBackend.Torch;
        _logger.LogInformation("Engine {Model}: decode backend {Backend}{Reason}", modelName, _decodeBackend, noKernels is null ? "" : $" ({noKernels})");
        _logger.LogInformation("Engine {Model}: {Architecture} {Layers} layers hidden {Hidden}, {Slots} slots x {Context} tokens, KV cache {CacheMiB} MiB at start (bound {BoundMiB} MiB, {Blocks} blocks of {BlockTokens} tokens), {Threads} threads, chat template {Template}",
            modelName, model.Config.Architecture, model.Config.NumHiddenLayers, model.Config.HiddenSize, options.MaxConcurrentSequences,
            MaxContextTokens, _cache.Bytes >> 20, _cache.MaxBlocks * _cache.BytesPerBlock >> 20, _cache.MaxBlocks, _cache.BlockTokens, options.Threads > 0 ? options.Threads : torch.get_num_threads(), model.ChatTemplate.Name);
        _loop = new Thread(Run) { IsBackground = true, Name = $"TextEngine:{modelName}" };
        _loop.Start();
    }

    /// <summary>Loads a Hugging Face model folder and starts its scheduler. The engine owns the model (disposes it).</summary>
    /// <exception cref="ModelLoadException">The folder cannot be loaded (message names the file and the problem).</exception>
    public static TextEngine Load(string modelName, string folder, EngineOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Validator.ValidateObject(options, new ValidationContext(options), validateAllProperties: true);
        var model = ModelLoader.Load(folder, options.Device, options.ChatTemplate);
        try { return new TextEngine(modelName, model, options, logger); }
        catch { model.Dispose(); throw; }
    }

    public string ModelName { get; }
    public int MaxContextTokens { get; }
    /// <summary>Bytes of KV cache the engine holds now (the paged pool grows with the tokens in use, up to its bound).</summary>
    public long KvCacheBytes => _cache.Bytes;
    /// <summary>The implementation of this engine's decode steps, chosen at start (see <see cref="LlamaForCausalLM.RowKernelsUnsupported"/>).</summary>
    public LlamaBackend DecodeBackend => _decodeBackend;
    /// <summary>Torch threads this engine's forward passes run with (read on its scheduler thread, after each step).</summary>
    public int ThreadsInUse { get; private set; }
    /// <summary>The loaded model (config, module, tokenizer, chat template, generation config).</summary>
    public LoadedModel Model => _model;
    public Chat.ChatTemplate ChatTemplate => _model.ChatTemplate;

    public EngineStats Stats
    {
        get
        {
            lock (_gate) return new EngineStats(_runningCount, _waiting.Count + _preempted.Count, Interlocked.Read(ref _promptTokensTotal), Interlocked.Read(ref _generationTokensTotal))
            {
                KvCacheUsage = _cache.Usage, PrefixCacheQueryTokens = _cache.Blocks.PrefixQueryTokens, PrefixCacheHitTokens = _cache.Blocks.PrefixHitTokens,
                Preemptions = Interlocked.Read(ref _preemptions),
            };
        }
    }

    public int CountPromptTokens(GenerationRequest request) => BuildPrompt(request).Tokens.Length;

    public IAsyncEnumerable<GenerationUpdate> GenerateAsync(GenerationRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ObjectDisposedException.ThrowIf(_stopping, this);
        ValidateRequest(request);
        if (request.Sampling.LogitBias is { } bias)
            foreach (var id in bias.Keys)
                if (id < 0 || id >= _model.Model.OutputVocabulary) throw new ArgumentException($"logit_bias token {id} is outside the vocabulary (0..{_model.Model.OutputVocabulary - 1})");
        var (tokens, rows, isChat, layout) = BuildPrompt(request);
        CheckFitsCache(tokens.Length);
        // An image-token model's pictures are always constrained; a prompt whose image tokens are malformed is refused.
        var pictures = _model.ImageVocabulary is { } iv ? new PictureConstraint(iv, _model.ImageAdapterConfig!.GridSize, tokens) : null;
        var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var stops = new HashSet<int>(request.IgnoreEos ? request.StopTokenIds : request.StopTokenIds.Concat(_model.EosTokenIds));
        if (isChat && !request.IgnoreEos)
            foreach (var t in _model.ChatTemplate.EndOfTurnTokens)
                if (_model.Tokenizer.TokenToId(t) is int id) stops.Add(id);
        var seq = new Sequence
        {
            Request = request,
            PromptTokens = tokens,
            PromptEmbeddingRows = rows,
            Layout = layout,
            Sampling = new SamplingState(request.Sampling, tokens)
            {
                Constraint = request.Grammar is { } grammar ? new Constraints.TokenConstraint(grammar, _model.Tokenizer, stops, cts.Token) : null,
                Pictures = pictures,
            },
            Text = new TextStreamAssembler(request.StopStrings, _model.Tokenizer.StripsLeadingSpace),
            StopTokens = stops,
            Cancellation = cts.Token,
        };
        lock (_gate)
        {
            if (_runningCount + _waiting.Count >= _options.MaxConcurrentSequences + _options.MaxWaitingRequests)
            {
                cts.Dispose();
                throw new EngineFullException($"engine '{ModelName}' is full: {_runningCount} running, {_waiting.Count} waiting (MaxWaitingRequests {_options.MaxWaitingRequests})");
            }
            _waiting.Enqueue(seq);
        }
        cts.Token.Register(Wake);
        Wake();
        _logger.LogDebug("Queued request {RequestId} with {PromptTokens} prompt tokens", request.RequestId, tokens.Length);
        return ReadAsync(seq, cts);
    }

    /// <summary>Wakes the scheduler (a cancellation may arrive after the engine is disposed: then nothing to do).</summary>
    private void Wake()
    {
        if (_stopping) return;
        try { _wake.Set(); }
        catch (ObjectDisposedException) { }
    }

    private static async IAsyncEnumerable<GenerationUpdate> ReadAsync(Sequence seq, CancellationTokenSource cts, [EnumeratorCancellation] CancellationToken enumeratorToken = default)
    {
        try
        {
            // The scheduler always ends the stream (with FinishReason "cancelled" on cancellation), so read to the end.
            await foreach (var update in seq.Output.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                yield return update;
                if (enumeratorToken.IsCancellationRequested) cts.Cancel();
            }
        }
        finally
        {
            // A consumer that stops early frees its slot at the next step.
            cts.Cancel();
            cts.Dispose();
        }
    }

    private static void ValidateRequest(GenerationRequest r)
    {
        if (r.MaxNewTokens <= 0) throw new ArgumentException($"MaxNewTokens must be positive, got {r.MaxNewTokens}");
        var s = r.Sampling ?? throw new ArgumentException("Sampling is required");
        if (s.Temperature < 0 || float.IsNaN(s.Temperature)) throw new ArgumentException($"Temperature must be >= 0, got {s.Temperature}");
        if (s.TopK < 0) throw new ArgumentException($"TopK must be >= 0, got {s.TopK}");
        if (!(s.TopP > 0 && s.TopP <= 1)) throw new ArgumentException($"TopP must be in (0, 1], got {s.TopP}");
        if (!(s.MinP >= 0 && s.MinP < 1)) throw new ArgumentException($"MinP must be in [0, 1), got {s.MinP}");
        if (!(s.RepetitionPenalty > 0)) throw new ArgumentException($"RepetitionPenalty must be > 0, got {s.RepetitionPenalty}");
        if (r.Logprobs is < 0 or > LogprobCalculator.MaxTop) throw new ArgumentException($"Logprobs must be in [0, {LogprobCalculator.MaxTop}], got {r.Logprobs}");
    }

    /// <summary>Renders and tokenizes the prompt; image placeholders become visual-embedding rows.</summary>
    private (int[] Tokens, IReadOnlyDictionary<int, float[]>? Rows, bool IsChat, SetLayout? Layout) BuildPrompt(GenerationRequest request)
    {
        var tok = _model.Tokenizer;
        int[] tokens;
        Dictionary<int, float[]>? rows = null;
        bool isChat = false;
        SetLayout? layout = null;
        if (request.PromptPieces is not null || request.UseSetMarkers)
        {
            (layout, isChat) = BuildSetLayout(request);
            tokens = layout.Tokens;
            rows = LayoutRows(layout);
        }
        else if (request.PromptTokens is { } given)
        {
            tokens = given.ToArray();
            foreach (var t in tokens)
                if (t < 0 || t >= _model.Model.OutputVocabulary) throw new ArgumentException($"prompt token {t} is outside the vocabulary (0..{_model.Model.OutputVocabulary - 1})");
        }
        else if (request.Prompt is { } prompt)
        {
            tokens = tok.Encode(prompt, addBos: tok.AddBos, addEos: tok.AddEos).ToArray();
        }
        else if (request.Messages is { Count: > 0 } messages)
        {
            isChat = true;
            var text = _model.ChatTemplate.Render(messages, true, request.Tools);
            var images = messages.SelectMany(m => m.Images ?? []).ToList();
            if (images.Count == 0) tokens = tok.Encode(text).ToArray();
            else (tokens, rows) = SpliceImages(text, images);
        }
        else throw new ArgumentException("request has no Messages, Prompt or PromptTokens");
        if (tokens.Length == 0)
        {
            if (tok.BosTokenId is int bos) tokens = [bos];
            else throw new ArgumentException("prompt is empty");
        }
        if (tokens.Length >= MaxContextTokens)
            throw new ContextLengthExceededException($"prompt has {tokens.Length} tokens; model '{ModelName}' accepts at most {MaxContextTokens - 1} prompt tokens (context {MaxContextTokens})");
        return (tokens, rows, isChat, layout);
    }

    private (int[], Dictionary<int, float[]>) SpliceImages(string text, IReadOnlyList<VisualEmbedding> images)
    {
        var parts = text.Split(GenerationRequest.ImagePlaceholder);
        if (parts.Length - 1 != images.Count)
            throw new ArgumentException($"messages contain {parts.Length - 1} '{GenerationRequest.ImagePlaceholder}' placeholders but {images.Count} images");
        int hidden = _model.Config.HiddenSize;
        var tokens = new List<int>();
        var rows = new Dictionary<int, float[]>();
        int filler = _model.Tokenizer.EosTokenId ?? 0;   // any id: its embedding row is replaced
        for (int i = 0; i < parts.Length; i++)
        {
            tokens.AddRange(_model.Tokenizer.Encode(parts[i]));
            if (i == images.Count) break;
            var img = images[i];
            if (img.Hidden != hidden) throw new ArgumentException($"image {i} has embedding width {img.Hidden}; the model's hidden size is {hidden}");
            if (img.Tokens <= 0 || img.Data.Length != img.Tokens * img.Hidden)
                throw new ArgumentException($"image {i} has {img.Data.Length} values, expected Tokens x Hidden = {img.Tokens} x {img.Hidden}");
            for (int t = 0; t < img.Tokens; t++)
            {
                rows[tokens.Count] = img.Data.AsSpan(t * hidden, hidden).ToArray();
                tokens.Add(filler);
            }
        }
        return (tokens.ToArray(), rows);
    }

    private static int[] FindImageTokens(TextTokenizer tok)
    {
        var ids = new List<int>();
        for (int k = 0; tok.TokenToId($"[IMG{k}]") is int id; k++) ids.Add(id);
        return ids.ToArray();
    }

    // ---------------------------------------------------------------- scheduler thread

    private void Run()
    {
        using var inference = torch.inference_mode();
        // Torch's intra-op thread count belongs to the calling OS thread (OpenMP's nthreads ICV, MKL's local setting),
        // so each engine sets its own on its scheduler thread, where all its forward passes run; a process-wide call
        // would let the last engine loaded overwrite the others. get_num_threads first: torch's lazy per-thread
        // initialisation, on the first call, copies the last process-wide value over whatever was set before it.
        if (_options.Threads > 0)
        {
            _ = torch.get_num_threads();
            torch.set_num_threads(_options.Threads);
        }
        ThreadsInUse = torch.get_num_threads();
        while (true)
        {
            RunEmbeddingWork();
            bool idle;
            lock (_gate)
            {
                if (_stopping) break;
                if (_waiting.Any(w => w.Cancellation.IsCancellationRequested))
                {
                    // Cancelled before getting a slot: end them now rather than when a slot frees up.
                    var keep = _waiting.Where(w => !w.Cancellation.IsCancellationRequested).ToList();
                    foreach (var w in _waiting.Where(w => w.Cancellation.IsCancellationRequested)) w.Finish("cancelled");
                    _waiting.Clear();
                    foreach (var w in keep) _waiting.Enqueue(w);
                }
                while (_active.Count < _options.MaxConcurrentSequences && NextToAdmit() is { } seq)
                {
                    seq.Slot = _active.Count;
                    _active.Add(seq);
                    if (seq.Preemptions == 0) Interlocked.Add(ref _promptTokensTotal, seq.PromptTokens.Length);
                    TakeBlocks(seq);
                }
                _runningCount = _active.Count;
                idle = _active.Count == 0 && _embeddingWork.IsEmpty;
            }
            if (idle)
            {
                _wake.WaitOne(TimeSpan.FromSeconds(1));
                continue;
            }
            try
            {
                Step();
                ThreadsInUse = torch.get_num_threads();
            }
            catch (Exception e)
            {
                _logger.LogError(e, "Engine {Model} step failed; failing {Count} running sequences", ModelName, _active.Count);
                foreach (var s in _active) s.Fail(e);
                for (int i = 0; i < _active.Count; i++) _cache.Free(i);
                _active.Clear();
            }
            RemoveFinished();
        }
        foreach (var s in _active) s.Finish("cancelled");
        lock (_gate)
        {
            while (_waiting.Count > 0) _waiting.Dequeue().Finish("cancelled");
            while (_preempted.Count > 0) _preempted.Pop().Finish("cancelled");
        }
        CancelEmbeddingWork();
    }

    private void Step()
    {
        foreach (var s in _active)
            if (!s.Finished && s.Cancellation.IsCancellationRequested) s.Finish("cancelled");
        RemoveFinished();

        int decoding = _active.TakeWhile(s => s.Decoding).Count();
        if (decoding < _active.Count) PrefillChunk(decoding);

        // A sequence that just sampled [IMG0] appends its image tokens before it may join a decode batch
        // (the batch feeds one pending token per row). Each round consumes r tokens, so this ends.
        while (_active.Any(s => s.Decoding && s.PendingImage && !s.Finished))
        {
            ReserveBlocks(s => s.Decoding && s.PendingImage && !s.Finished && s.CacheLength + _imageTokens.Length + 1 <= MaxContextTokens ? s.CacheLength + _imageTokens.Length : null);
            AppendImageSlots();
            RemoveFinished();
        }
        RemoveFinished();

        ReserveBlocks(s => s.Decoding && !s.Finished ? s.CacheLength + 1 : null);
        RemoveFinished();
        decoding = _active.TakeWhile(s => s.Decoding).Count();
        if (decoding > 0) DecodeStep(decoding);
    }

    /// <summary>
    /// Prefills the next chunk of the first prefilling sequence (slot <paramref name="first"/>) and, when that chunk
    /// ends its prompt, the whole prompts of the prefilling sequences after it, in one forward: row b is slot
    /// first+b, rows shorter than the longest are padded at the end. The padding's cache entries lie past the row's
    /// length, where no real token attends (the mask is causal over cache indices) and the row's next token overwrites
    /// them. Rows are added while rows x longest stays within <see cref="EngineOptions.PrefillChunkTokens"/>.
    /// </summary>
    private void PrefillChunk(int first)
    {
        var head = _active[first];
        if (head.Layout is not null) { PrefillSetChunk(head); return; }
        using var scope = NewDisposeScope();
        int headTokens = Math.Min(_options.PrefillChunkTokens, head.PrefillTokens.Length - head.Prefilled);
        var rows = new List<(Sequence Seq, int Tokens)> { (head, headTokens) };
        int width = headTokens;
        if (head.Prefilled + headTokens == head.PrefillTokens.Length)
        {
            for (int i = first + 1; i < _active.Count; i++)
            {
                var s = _active[i];
                if (s.Layout is not null) break;
                int n = s.PrefillTokens.Length - s.Prefilled, w = Math.Max(width, n);
                if ((long)w * (rows.Count + 1) > _options.PrefillChunkTokens) break;
                if (s.CacheLength + w > MaxContextTokens || rows.Any(r => r.Seq.CacheLength + w > MaxContextTokens)) break;
                rows.Add((s, n));
                width = w;
            }
        }
        int b = rows.Count;
        var ids = new long[b * width];
        var starts = new long[b];
        for (int row = 0; row < b; row++)
        {
            var (seq, n) = rows[row];
            starts[row] = seq.CacheLength;
            for (int t = 0; t < width; t++) ids[row * width + t] = seq.PrefillTokens[seq.Prefilled + Math.Min(t, n - 1)];
        }
        var idTensor = tensor(ids, device: _model.Device).view(b, width);
        Tensor? embeds = null;
        for (int row = 0; row < b; row++)
        {
            var (seq, n) = rows[row];
            if (seq.PromptEmbeddingRows is not { } given) continue;
            foreach (var (pos, values) in given)
            {
                if (pos < seq.Prefilled || pos >= seq.Prefilled + n) continue;
                embeds ??= _model.Model.EmbedTokens(idTensor).clone();
                embeds[row, pos - seq.Prefilled].copy_(tensor(values, device: _model.Device));
            }
        }
        var last = rows.Select(r => r.Seq.Prefilled + r.Tokens == r.Seq.PrefillTokens.Length).ToArray();
        var output = _model.Model.Forward(new LlamaInputs
        {
            // With spliced rows the ids still name each row's token (image rows for the adapter, routing by modality).
            InputIds = idTensor,
            InputsEmbeds = embeds,
            Cache = new CacheWrite { Cache = _cache, FirstSlot = first, Starts = starts, Lengths = rows.Select(r => (long)r.Tokens).ToArray() },
            MaxPosition = starts.Max() + width - 1,
            LogitPositions = last.Any(x => x) ? tensor(rows.Select(r => (long)r.Tokens - 1).ToArray(), device: _model.Device).view(b, 1) : null,
            SkipLogits = !last.Any(x => x),
        });
        var done = new List<int>();
        for (int row = 0; row < b; row++)
        {
            var (seq, n) = rows[row];
            seq.Prefilled += n;
            seq.CacheLength += n;
            RegisterPrefix(seq);
            if (!last[row]) continue;
            seq.Decoding = true;
            if (EndResume(seq)) continue;
            done.Add(row);
        }
        if (done.Count == 0) return;
        var logits = output.Logits!.view(b, -1);
        if (done.Count < b) logits = logits.index_select(0, tensor(done.Select(r => (long)r).ToArray(), device: _model.Device));
        var tokens = Sampler.Choose(logits, done.Select(r => rows[r].Seq.Sampling).ToArray());
        for (int k = 0; k < done.Count; k++) HandleToken(rows[done[k]].Seq, tokens[k], LogitsRow(rows[done[k]].Seq, logits, k), LogprobRow(rows[done[k]].Seq, logits, k, tokens[k]));
    }

    /// <summary>One prefill chunk of a prompt with sets: its own positions and mask, one sequence per forward.</summary>
    private void PrefillSetChunk(Sequence seq)
    {
        using var scope = NewDisposeScope();
        int n = Math.Min(_options.PrefillChunkTokens, seq.PromptTokens.Length - seq.Prefilled);
        var ids = new long[n];
        for (int i = 0; i < n; i++) ids[i] = seq.PromptTokens[seq.Prefilled + i];
        var idTensor = tensor(ids, device: _model.Device).view(1, n);
        Tensor? embeds = null;
        if (seq.PromptEmbeddingRows is { } rows && rows.Keys.Any(k => k >= seq.Prefilled && k < seq.Prefilled + n))
        {
            embeds = _model.Model.EmbedTokens(idTensor).clone();
            foreach (var (pos, row) in rows)
                if (pos >= seq.Prefilled && pos < seq.Prefilled + n)
                    embeds[0, pos - seq.Prefilled].copy_(tensor(row, device: _model.Device));
        }
        bool last = seq.Prefilled + n == seq.PromptTokens.Length;
        // A prompt that ends with a set: every member's last token gives logits (see SetLayout); in this chunk, those
        // that fall in it.
        var ends = seq.Layout is { TrailingMemberEnds.Length: > 0 } tl
            ? tl.TrailingMemberEnds.Where(e => e >= seq.Prefilled && e < seq.Prefilled + n).Select(e => (long)(e - seq.Prefilled)).ToArray()
            : null;
        var output = _model.Model.Forward(new LlamaInputs
        {
            // With spliced rows the ids still name each row's token (image rows for the adapter, routing by modality).
            InputIds = idTensor,
            InputsEmbeds = embeds,
            Cache = new CacheWrite { Cache = _cache, FirstSlot = seq.Slot, Starts = [seq.CacheLength] },
            // A prompt with sets brings its own positions and mask (Set-Based Prompting); otherwise causal by cache index.
            PositionIds = seq.Layout?.ChunkPositions(seq.Prefilled, n, _model.Device),
            AttentionMask = seq.Layout?.ChunkMask(seq.Prefilled, n, _model.Device),
            MaxPosition = seq.Layout is { } l ? l.Positions.AsSpan(seq.Prefilled, n).ToArray().Max() : seq.CacheLength + n - 1,
            LogitPositions = ends is { Length: > 0 } ? tensor(ends, device: _model.Device).view(1, ends.Length)
                : last && ends is null ? tensor(new long[] { n - 1 }, device: _model.Device).view(1, 1) : null,
            SkipLogits = ends is { Length: 0 } || (ends is null && !last),
        });
        seq.Prefilled += n;
        seq.CacheLength += n;
        if (ends is { Length: > 0 })
            for (int k = 0; k < ends.Length; k++) seq.TrailingLogits.Add(output.Logits![0, k].unsqueeze(0).DetachFromDisposeScope());
        if (!last) return;
        seq.Decoding = true;
        var logits = output.Logits!;
        if (seq.TrailingLogits.Count > 0)
        {
            // Mean over the members in canonical cache order (bitwise the same for any client order).
            logits = stack(seq.TrailingLogits, 0).mean([0]).view(1, 1, -1);
            foreach (var t in seq.TrailingLogits) t.Dispose();
            seq.TrailingLogits.Clear();
        }
        var token = Sampler.Choose(logits.view(1, -1), [seq.Sampling])[0];
        HandleToken(seq, token, LogitsRow(seq, logits, 0), LogprobRow(seq, logits.view(1, -1), 0, token));
    }

    private void DecodeStep(int count)
    {
        using var scope = NewDisposeScope();
        var ids = new long[count];
        var starts = new long[count];
        var states = new SamplingState[count];
        var positions = new long[count];
        bool shifted = false;
        long maxPos = 0;
        for (int i = 0; i < count; i++)
        {
            var s = _active[i];
            ids[i] = s.PendingToken;
            starts[i] = s.CacheLength;
            states[i] = s.Sampling;
            positions[i] = s.CacheLength - s.PositionOffset;
            shifted |= s.PositionOffset != 0;
            maxPos = Math.Max(maxPos, positions[i]);
        }
        var output = _model.Model.Forward(new LlamaInputs
        {
            InputIds = tensor(ids, device: _model.Device).view(count, 1),
            Cache = new CacheWrite { Cache = _cache, FirstSlot = 0, Starts = starts },
            // After a set, rotary positions lag the cache index (the members overlap); such a batch runs on torch
            // with explicit positions. The default causal mask over cache indices is what a token after a set needs.
            Backend = shifted ? LlamaBackend.Torch : _decodeBackend,
            PositionIds = shifted ? tensor(positions, device: _model.Device).view(count, 1) : null,
            MaxPosition = maxPos,
        });
        var tokens = Sampler.Choose(output.Logits!.view(count, -1), states);
        for (int i = 0; i < count; i++)
        {
            var s = _active[i];
            s.CacheLength++;
            if (!s.Finished) HandleToken(s, tokens[i], LogitsRow(s, output.Logits!, i), LogprobRow(s, output.Logits!, i, tokens[i]));
        }
    }

    /// <summary>
    /// GILL (Koh et al. 2023): after [IMG0] is sampled, [IMG1..IMG(r-1)] are appended in one forward and the r
    /// positions' last decoder layer outputs, taken before the final RMSNorm (HF's hidden_states[-1] is taken after
    /// it; the mapper is trained on the pre-norm states, <see cref="Models.Llama.LlamaInputs.HiddenStatePositions"/>),
    /// plus their input embeddings are reported for the image mapper. With an image slot context
    /// (<see cref="LoadedModel.ImageSlotContext"/>) the slot also carries the same for up to that many generated words
    /// before [IMG0] (back to the answer's start or the previous picture): those words are fed again in the same
    /// forward, writing the cache entries they already hold, to get their hidden states (the span decode path that
    /// generated them computes no hidden states).
    /// Every sequence waiting for its image tokens is moved to the low slots (decoding sequences stay packed first,
    /// ordered by their number of words) and each run of equal word counts runs in one forward, one row each.
    /// </summary>
    private void AppendImageSlots()
    {
        int r = _imageTokens.Length;
        foreach (var s in _active)
        {
            if (!s.Decoding || !s.PendingImage || s.Finished) continue;
            if (s.CacheLength + r + 1 > MaxContextTokens) { s.PendingImage = false; s.Finish("length"); }
        }
        RemoveFinished();
        // The words before [IMG0]: the completion since the answer's start or the last picture, without [IMG0] itself.
        int Words(Sequence s) => Math.Min(_model.ImageSlotContext, s.Completion.Count - 1 - s.ImageContextStart);
        var pending = Enumerable.Range(0, _active.Count).Where(i => _active[i].Decoding && _active[i].PendingImage && !_active[i].Finished)
            .Select(i => _active[i]).OrderBy(Words).ToList();
        for (int b = 0; b < pending.Count; b++)
            if (pending[b].Slot != b) Swap(b, pending[b].Slot);
        for (int first = 0; first < pending.Count;)
        {
            int words = Words(pending[first]), end = first;
            while (end < pending.Count && Words(pending[end]) == words) end++;
            AppendImageSlots(first, pending.GetRange(first, end - first), words);
            first = end;
        }
    }

    /// <summary>One forward for the image tokens of <paramref name="rows"/> (slots first.., each with
    /// <paramref name="words"/> words before its [IMG0]).</summary>
    private void AppendImageSlots(int first, List<Sequence> rows, int words)
    {
        using var scope = NewDisposeScope();
        int r = _imageTokens.Length, b = rows.Count, width = words + r;
        var ids = new long[b * width];
        for (int row = 0; row < b; row++)
        {
            var seq = rows[row];
            for (int k = 0; k < words; k++) ids[row * width + k] = seq.Completion[seq.Completion.Count - 1 - words + k];
            for (int k = 0; k < r; k++) ids[row * width + words + k] = _imageTokens[k];
        }
        var starts = rows.Select(s => (long)(s.CacheLength - words)).ToArray();
        var idTensor = tensor(ids, device: _model.Device).view(b, width);
        var embeds = _model.Model.model.embed_tokens.forward(idTensor);
        var output = _model.Model.Forward(new LlamaInputs
        {
            InputsEmbeds = embeds,
            Cache = new CacheWrite { Cache = _cache, FirstSlot = first, Starts = starts },
            // Sequences whose prompt held sets continue at position (cache index - offset), see SetLayout.
            PositionIds = rows.Any(x => x.PositionOffset != 0)
                ? (arange(width, device: _model.Device).view(1, width) + tensor(starts.Select((st, i) => st - rows[i].PositionOffset).ToArray(), device: _model.Device).view(b, 1))
                : null,
            MaxPosition = rows.Select((x, i) => starts[i] - x.PositionOffset).Max() + width - 1,
            LogitPositions = full(b, 1, width - 1, ScalarType.Int64, device: _model.Device),
            HiddenStatePositions = arange(width, device: _model.Device).view(1, width).expand(b, width),
        });
        int hidden = _model.Config.HiddenSize, per = width * hidden;
        var states = output.HiddenStates!.to(CPU).contiguous().data<float>().ToArray();
        var slotEmbeds = embeds.to(CPU).contiguous().data<float>().ToArray();
        var next = new List<int>();
        for (int row = 0; row < b; row++)
        {
            var seq = rows[row];
            seq.PendingImage = false;
            seq.CacheLength += r;
            seq.Generated += r - 1;
            Interlocked.Add(ref _generationTokensTotal, r - 1);
            for (int k = 1; k < r; k++) seq.Completion.Add(_imageTokens[k]);
            seq.ImageContextStart = seq.Completion.Count;
            seq.Emit(new GenerationUpdate
            {
                TokenIds = _imageTokens,
                PromptTokens = seq.PromptTokens.Length,
                CompletionTokens = seq.Generated,
                Image = new ImageSlot(width, hidden, states.AsSpan(row * per, per).ToArray(), slotEmbeds.AsSpan(row * per, per).ToArray()),
            });
            if (seq.Generated >= seq.Request.MaxNewTokens) seq.Finish("length");
            else next.Add(row);
        }
        if (next.Count == 0) return;
        var logits = output.Logits!.view(b, -1);
        if (next.Count < b) logits = logits.index_select(0, tensor(next.Select(x => (long)x).ToArray(), device: _model.Device));
        var tokens = Sampler.Choose(logits, next.Select(x => rows[x].Sampling).ToArray());
        for (int k = 0; k < next.Count; k++) HandleToken(rows[next[k]], tokens[k], LogitsRow(rows[next[k]], logits, k), LogprobRow(rows[next[k]], logits, k, tokens[k]));
    }

    private void HandleToken(Sequence seq, int token, float[]? logits = null, TokenLogprob? logprob = null)
    {
        seq.Generated++;
        seq.Completion.Add(token);
        seq.Sampling.Observe(token);
        Interlocked.Increment(ref _generationTokensTotal);
        if (seq.StopTokens.Contains(token))
        {
            seq.Finish("stop");
            return;
        }
        if (_model.ImageVocabulary is { } iv && token >= iv.BaseVocabulary)
        {
            // An image token adds no text; the end-of-image token's update carries the picture. A picture ends the text
            // before it, so begin-of-image's update releases what the text stream still held (a stop string's possible
            // start, an incomplete character): it comes before the picture, as in the completion.
            seq.Emit(new GenerationUpdate
            {
                TextDelta = token == iv.BeginOfImage ? seq.Text.Flush() : "",
                TokenIds = [token], PromptTokens = seq.PromptTokens.Length, CompletionTokens = seq.Generated, Logits = logits,
                Logprobs = logprob is null ? null : [logprob], Picture = seq.Sampling.Pictures?.TakeCompleted(),
            });
            if (seq.Generated >= seq.Request.MaxNewTokens || seq.CacheLength + 1 >= MaxContextTokens) seq.Finish("length");
            else seq.PendingToken = token;
            return;
        }
        if (seq.Request.ReportImageSlots && _imageTokens.Length > 0 && token == _imageTokens[0])
        {
            // The image update (with all r ids) is emitted once the remaining slot tokens have run.
            seq.PendingImage = true;
            seq.PendingToken = token;
            return;
        }
        var delta = seq.Text.Append(_model.Tokenizer.TokenBytes(token));
        if (seq.Text.Stopped)
        {
            if (delta.Length > 0) seq.Emit(new GenerationUpdate { TextDelta = delta, TokenIds = [token], PromptTokens = seq.PromptTokens.Length, CompletionTokens = seq.Generated, Logits = logits, Logprobs = logprob is null ? null : [logprob] });
            seq.Finish("stop");
            return;
        }
        seq.Emit(new GenerationUpdate { TextDelta = delta, TokenIds = [token], PromptTokens = seq.PromptTokens.Length, CompletionTokens = seq.Generated, Logits = logits, Logprobs = logprob is null ? null : [logprob] });
        if (seq.Sampling.Constraint is { IsComplete: true })
        {
            seq.Finish("stop");
            return;
        }
        if (seq.Generated >= seq.Request.MaxNewTokens || seq.CacheLength + 1 >= MaxContextTokens)
        {
            seq.Finish("length");
            return;
        }
        seq.PendingToken = token;
    }

    /// <summary>Removes finished sequences, keeping the packing: decoding [0, d), prefilling [d, n).</summary>
    private void RemoveFinished()
    {
        for (int i = _active.Count - 1; i >= 0; i--)
        {
            var seq = _active[i];
            if (!seq.Finished) continue;
            _logger.LogDebug("Request {RequestId} finished ({FinishReason}): {PromptTokens} prompt + {CompletionTokens} completion tokens in {ElapsedMs:F0} ms",
                seq.Request.RequestId, seq.FinishReason, seq.PromptTokens.Length, seq.Generated, System.Diagnostics.Stopwatch.GetElapsedTime(seq.StartedAt).TotalMilliseconds);
            _cache.Free(i);
            int hole = i;
            if (seq.Decoding)
            {
                int lastDecoding = _active.FindLastIndex(s => s.Decoding);
                if (lastDecoding != hole) { Move(lastDecoding, hole); hole = lastDecoding; }
            }
            int last = _active.Count - 1;
            if (last != hole) Move(last, hole);
            _active.RemoveAt(last);
        }
        lock (_gate) _runningCount = _active.Count;
    }

    /// <summary>Exchanges the cache slots (and places in the packing) of two running sequences.</summary>
    private void Swap(int a, int b)
    {
        var (sa, sb) = (_active[a], _active[b]);
        _cache.SwapSlots(a, b, sa.CacheLength, sb.CacheLength);
        (_active[a], _active[b]) = (sb, sa);
        sa.Slot = b;
        sb.Slot = a;
    }

    private void Move(int from, int to)
    {
        var s = _active[from];
        _cache.MoveSlot(from, to, s.CacheLength);
        s.Slot = to;
        _active[to] = s;
        _active[from] = null!;
    }

    public async ValueTask DisposeAsync()
    {
        if (_stopping) return;
        _stopping = true;
        _wake.Set();
        await Task.Run(() => _loop.Join()).ConfigureAwait(false);
        _cache.Dispose();
        _model.Dispose();
    }
}
