using Microsoft.Extensions.Logging;
using Platform.Inference.Loading;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;
using TorchSharp;

namespace Platform.Inference.Engine.Scheduling;

/// <summary>
/// The continuous-batching loop: one background thread per engine owns all its tensor work. Each step it (1) admits
/// waiting requests into free KV-cache slots, (2) prefills one chunk of one joining prompt (with the GILL image
/// tokens of sequences that sampled [IMG0] in the last step in the same forward, when they fit), (3) appends the image
/// tokens still due where [IMG0] was sampled, (4) runs ONE batched decode forward for every running sequence, then lets finished
/// or cancelled sequences leave. Running sequences are kept packed in the low cache slots (<see cref="ActiveSlots"/>)
/// so a batch is a contiguous slot range. Embedding and prompt-scoring work runs between steps.
/// </summary>
internal sealed class Scheduler
{
    private readonly string _modelName;
    private readonly int _maxRunning, _threads;
    private readonly ILogger _logger;
    private readonly AdmissionQueue _queue;
    private readonly EngineCounters _counters;
    private readonly EmbeddingWorker _embeddings;
    private readonly ActiveSlots _slots;
    private readonly KvPaging _paging;
    private readonly PrefillRunner _prefill;
    private readonly ImageSlots _imageSlots;
    private readonly DecodeRunner _decode;
    private readonly AutoResetEvent _wake = new(false);
    private readonly Thread _loop;
    private volatile bool _stopping;

    public Scheduler(string modelName, LoadedModel model, EngineOptions options, KvCache cache, int maxContextTokens, LlamaBackend decodeBackend,
        AdmissionQueue queue, EngineCounters counters, EmbeddingWorker embeddings, ILogger logger)
    {
        _modelName = modelName;
        _maxRunning = options.MaxConcurrentSequences;
        _threads = EngineThreads.Resolve(options.Threads);
        _logger = logger;
        _queue = queue;
        _counters = counters;
        _embeddings = embeddings;
        _slots = new ActiveSlots(cache, logger, queue.SetRunning);
        _paging = new KvPaging(cache, options.PrefixCaching, _slots, queue, counters, logger);
        var imageTokens = ImageSlots.FindTokens(model.Tokenizer);
        var sampler = new StepSampler(model, new TokenHandler(model, maxContextTokens, imageTokens, counters));
        _imageSlots = new ImageSlots(model, cache, _slots, _paging, sampler, counters, imageTokens, maxContextTokens);
        _prefill = new PrefillRunner(model, cache, _slots, _paging, sampler, _imageSlots, counters, options.PrefillChunkTokens, maxContextTokens);
        _decode = new DecodeRunner(model, cache, _slots, sampler, decodeBackend);
        _loop = new Thread(Run) { IsBackground = true, Name = $"TextEngine:{modelName}" };
        _loop.Start();
    }

    public bool IsStopping => _stopping;

    /// <summary>Torch threads the forward passes run with (read on the scheduler thread, after each step).</summary>
    public int ThreadsInUse { get; private set; }

    /// <summary>Wakes the loop (a cancellation may arrive after the engine is disposed: then nothing to do).</summary>
    public void Wake()
    {
        if (_stopping) return;
        try { _wake.Set(); }
        catch (ObjectDisposedException) { }
    }

    /// <summary>Stops the loop: running and waiting sequences end "cancelled", queued embedding work fails.</summary>
    public async Task StopAsync()
    {
        _stopping = true;
        _wake.Set();
        await Task.Run(() => _loop.Join()).ConfigureAwait(false);
    }

    private void Run()
    {
        using var inference = torch.inference_mode();
        ThreadsInUse = Runtime.TorchThreads.SetForCurrentThread(_threads);
        while (true)
        {
            _embeddings.RunPending();
            if (_stopping) break;
            _queue.Admit(_slots.Count, _maxRunning, _paging.CanHold, seq =>
            {
                _slots.Add(seq);
                if (seq.Preemptions == 0) _counters.AddPromptTokens(seq.PromptTokens.Length);
                _paging.TakeBlocks(seq);
            });
            if (_slots.Count == 0 && _embeddings.IsEmpty)
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
                _logger.LogError(e, "Engine {Model} step failed; failing {Count} running sequences", _modelName, _slots.Count);
                _slots.FailAll(e);
            }
            _slots.RemoveFinished();
        }
        foreach (var s in _slots) s.Finish("cancelled");
        _queue.CancelAll();
        _embeddings.CancelAll();
    }

    private void Step()
    {
        foreach (var s in _slots)
            if (!s.Finished && s.Cancellation.IsCancellationRequested) s.Finish("cancelled");
        _slots.RemoveFinished();

        int decoding = _slots.DecodingCount;
        if (decoding < _slots.Count)
        {
            // Image tokens sampled in the last decode step may join this step's prefill forward: their blocks first
            // (which may preempt a prefilling sequence from the last slot), then the prefill's rows.
            bool join = _imageSlots.AnyPending && _imageSlots.CanJoinPrefill;
            if (join)
            {
                _imageSlots.Reserve();
                decoding = _slots.DecodingCount;
            }
            if (decoding < _slots.Count) _prefill.Chunk(decoding, join);
        }

        _imageSlots.AppendPending();
        _slots.RemoveFinished();

        _paging.ReserveBlocks(s => s.Decoding && !s.Finished ? s.CacheLength + 1 : null);
        _slots.RemoveFinished();
        decoding = _slots.DecodingCount;
        if (decoding > 0) _decode.Step(decoding);
    }
}
