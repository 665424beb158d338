using System.ComponentModel.DataAnnotations;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Platform.Inference.Engine.Scheduling;
using Platform.Inference.Loading;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;

namespace Platform.Inference.Engine;

/// <summary>
/// The text-generation engine: one loaded model behind a continuous-batching scheduler (<see cref="Scheduler"/>, one
/// background thread that owns all tensor work). This class is the facade: it loads, checks and queues requests
/// (<see cref="PromptBuilder"/>, <see cref="SequenceFactory"/>, <see cref="AdmissionQueue"/>), streams their updates,
/// serves embeddings and prompt scoring through the same thread (<see cref="EmbeddingWorker"/>), reports its
/// counters, and owns the model and KV cache for its lifetime.
/// </summary>
public sealed class TextEngine : ITextEngine, ITextEmbedder, IPromptScorer
{
    private readonly LoadedModel _model;
    private readonly KvCache _cache;
    private readonly PromptBuilder _prompts;
    private readonly SequenceFactory _sequences;
    private readonly AdmissionQueue _queue;
    private readonly EngineCounters _counters = new();
    private readonly EmbeddingWorker _embeddings;
    private readonly Scheduler _scheduler;
    private readonly ILogger _logger;

    /// <summary>Starts a scheduler over an already loaded model; the engine takes ownership of <paramref name="model"/>.</summary>
    public TextEngine(string modelName, LoadedModel model, EngineOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        Validator.ValidateObject(options, new ValidationContext(options), validateAllProperties: true);
        ModelName = modelName;
        _model = model;
        _logger = logger ?? NullLogger.Instance;
        MaxContextTokens = options.MaxContextTokens > 0 ? options.MaxContextTokens : model.Config.MaxPositionEmbeddings;
        _model.Model.FuseForInference();
        _model.Model.QuantizeForInference(Quantization.QuantTypes.Parse(options.Quantization));
        _cache = KvPaging.CreateCache(model, options, MaxContextTokens);
        // One explicit choice of decode implementation for the engine's life: the span kernels where the model and
        // cache allow them, else torch (the reason is logged). Prefill and image slots always run on torch.
        string? noKernels = _model.Model.RowKernelsUnsupported(_cache, options.MaxConcurrentSequences);
        DecodeBackend = noKernels is null ? LlamaBackend.RowKernels : LlamaBackend.Torch;
        _logger.LogInformation("Engine {Model}: decode backend {Backend}{Reason}", modelName, DecodeBackend, noKernels is null ? "" : $" ({noKernels})");
        _logger.LogInformation("Engine {Model}: {Architecture} {Layers} layers hidden {Hidden}, {Slots} slots x {Context} tokens, KV cache {CacheMiB} MiB at start (bound {BoundMiB} MiB, {Blocks} blocks of {BlockTokens} tokens), {Threads} threads, chat template {Template}",
            modelName, model.Config.Architecture, model.Config.NumHiddenLayers, model.Config.HiddenSize, options.MaxConcurrentSequences,
            MaxContextTokens, _cache.Bytes >> 20, _cache.MaxBlocks * _cache.BytesPerBlock >> 20, _cache.MaxBlocks, _cache.BlockTokens, EngineThreads.Resolve(options.Threads), model.ChatTemplate.Name);
        _prompts = new PromptBuilder(modelName, model, MaxContextTokens);
        _sequences = new SequenceFactory(model);
        _queue = new AdmissionQueue(modelName, options.MaxConcurrentSequences, options.MaxWaitingRequests);
        _embeddings = new EmbeddingWorker(modelName, model, MaxContextTokens);
        _scheduler = new Scheduler(modelName, model, options, _cache, MaxContextTokens, DecodeBackend, _queue, _counters, _embeddings, _logger);
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
    /// <summary>KV blocks of the cache's bound (fixed at start).</summary>
    public int KvCacheMaxBlocks => _cache.MaxBlocks;
    /// <summary>Bytes the KV cache may grow to.</summary>
    public long KvCacheMaxBytes => _cache.MaxBlocks * _cache.BytesPerBlock;
    /// <summary>The implementation of this engine's decode steps, chosen at start (see <see cref="LlamaForCausalLM.RowKernelsUnsupported"/>).</summary>
    public LlamaBackend DecodeBackend { get; }
    /// <summary>Torch threads this engine's forward passes run with (read on its scheduler thread, after each step).</summary>
    public int ThreadsInUse => _scheduler.ThreadsInUse;
    /// <summary>The loaded model (config, module, tokenizer, chat template, generation config).</summary>
    public LoadedModel Model => _model;
    public Chat.ChatTemplate ChatTemplate => _model.ChatTemplate;
    /// <summary>The hidden size: the length of an embedding before <c>dimensions</c> shortens it.</summary>
    public int EmbeddingSize => _embeddings.EmbeddingSize;

    public EngineStats Stats
    {
        get
        {
            var (running, waiting) = _queue.Counts;
            return new EngineStats(running, waiting, _counters.PromptTokens, _counters.GenerationTokens)
            {
                KvCacheUsage = _cache.Usage, PrefixCacheQueryTokens = _cache.Blocks.PrefixQueryTokens, PrefixCacheHitTokens = _cache.Blocks.PrefixHitTokens,
                Preemptions = _counters.Preemptions, ImageSlotsWithPrefill = _counters.ImageSlotsWithPrefill,
            };
        }
    }

    /// <summary>
    /// Splits text at <see cref="Platform.Contracts.Chat.SetMarkers"/>: runs outside, and the members of every
    /// Start .. End group (split at Split). Nested or unbalanced markers and empty members are rejected.
    /// </summary>
    public static List<(string? Run, List<string>? Members)> SplitMarkedText(string text) => PromptBuilder.SplitMarkedText(text);

    public int CountPromptTokens(GenerationRequest request) => _prompts.Build(request).Tokens.Length;

    public IAsyncEnumerable<GenerationUpdate> GenerateAsync(GenerationRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ObjectDisposedException.ThrowIf(_scheduler.IsStopping, this);
        RequestValidator.Validate(request, _model.Model.OutputVocabulary);
        var prompt = _prompts.Build(request);
        KvPaging.CheckFits(_cache, ModelName, prompt.Tokens.Length);
        var (seq, cts) = _sequences.Create(request, prompt, cancellationToken);
        try { _queue.Enqueue(seq); }
        catch (EngineFullException)
        {
            cts.Dispose();
            throw;
        }
        cts.Token.Register(_scheduler.Wake);
        _scheduler.Wake();
        _logger.LogDebug("Queued request {RequestId} with {PromptTokens} prompt tokens", request.RequestId, prompt.Tokens.Length);
        return ReadAsync(seq, cts);
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

    /// <summary>Tokenizes <paramref name="inputs"/> (each with the tokenizer's BOS when it adds one); throws
    /// <see cref="ContextLengthExceededException"/> for an input longer than the context and ArgumentException for an empty one.</summary>
    public IReadOnlyList<int[]> TokenizeForEmbedding(IReadOnlyList<string> inputs) => _embeddings.Tokenize(inputs);

    /// <summary>One embedding per token sequence, computed on the scheduler thread (one forward per input).</summary>
    public Task<float[][]> EmbedAsync(IReadOnlyList<int[]> inputs, EmbeddingPooling pooling, int? dimensions, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_scheduler.IsStopping, this);
        var result = _embeddings.Embed(inputs, pooling, dimensions, cancellationToken);
        _scheduler.Wake();
        return result;
    }

    /// <summary>Prompt scoring (echo with logprobs) runs on the scheduler thread like embeddings: one forward, no cache.</summary>
    public Task<IReadOnlyList<PromptLogprob>> PromptLogprobsAsync(GenerationRequest request, int top, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_scheduler.IsStopping, this);
        if (top < 0 || top > Generation.LogprobCalculator.MaxTop) throw new ArgumentException($"top must be in [0, {Generation.LogprobCalculator.MaxTop}], got {top}");
        var result = _embeddings.Score(_prompts.Build(request).Tokens, top, cancellationToken);
        _scheduler.Wake();
        return result;
    }

    public async ValueTask DisposeAsync()
    {
        if (_scheduler.IsStopping) return;
        await _scheduler.StopAsync().ConfigureAwait(false);
        _cache.Dispose();
        _model.Dispose();
    }
}
