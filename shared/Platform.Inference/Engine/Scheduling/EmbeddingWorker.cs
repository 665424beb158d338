using System.Collections.Concurrent;
using Platform.Inference.Loading;
using Platform.Inference.Models.Llama;
using static TorchSharp.torch;

namespace Platform.Inference.Engine.Scheduling;

/// <summary>
/// Embeddings from the served language model: each input runs through the decoder (causal, no KV cache) on the
/// scheduler thread, between generation steps, and its final-norm hidden states (HF's last_hidden_state) are pooled
/// by the model's <see cref="EmbeddingPooling"/> and L2-normalised. With a requested dimension below the hidden size
/// the vector is cut to its first dimensions and normalised again (OpenAI's "dimensions" for its embedding models).
/// Prompt scoring (the log-probabilities of a prompt's own tokens, for echo with logprobs) uses the same queue.
/// Callers queue work on any thread; the scheduler runs it (<see cref="RunPending"/>).
/// </summary>
internal sealed class EmbeddingWorker
{
    private readonly ConcurrentQueue<EmbeddingWork> _work = new();
    private readonly LoadedModel _model;
    private readonly string _modelName;
    private readonly int _maxContextTokens;

    public EmbeddingWorker(string modelName, LoadedModel model, int maxContextTokens)
    {
        _modelName = modelName;
        _model = model;
        _maxContextTokens = maxContextTokens;
    }

    /// <summary>The hidden size: the length of an embedding before <c>dimensions</c> shortens it.</summary>
    public int EmbeddingSize => _model.Config.HiddenSize;

    public bool IsEmpty => _work.IsEmpty;

    /// <summary>Tokenizes <paramref name="inputs"/> (each with the tokenizer's BOS when it adds one); throws
    /// <see cref="ContextLengthExceededException"/> for an input longer than the context and ArgumentException for an empty one.</summary>
    public IReadOnlyList<int[]> Tokenize(IReadOnlyList<string> inputs)
    {
        var tok = _model.Tokenizer;
        var result = new List<int[]>(inputs.Count);
        for (int i = 0; i < inputs.Count; i++)
        {
            if (inputs[i].Length == 0) throw new ArgumentException($"input {i} is empty");
            result.Add(CheckTokens(tok.Encode(inputs[i], addBos: tok.AddBos, addEos: tok.AddEos).ToArray(), i));
        }
        return result;
    }

    private int[] CheckTokens(int[] tokens, int index)
    {
        if (tokens.Length == 0) throw new ArgumentException($"input {index} is empty");
        if (tokens.Length > _maxContextTokens)
            throw new ContextLengthExceededException($"input {index} has {tokens.Length} tokens; model '{_modelName}' accepts at most {_maxContextTokens}");
        foreach (var t in tokens)
            if (t < 0 || t >= _model.Config.VocabSize) throw new ArgumentException($"input {index}: token {t} is outside the vocabulary (0..{_model.Config.VocabSize - 1})");
        return tokens;
    }

    /// <summary>Queues one embedding per token sequence; the scheduler computes them (one forward per input).</summary>
    public Task<float[][]> Embed(IReadOnlyList<int[]> inputs, EmbeddingPooling pooling, int? dimensions, CancellationToken cancellationToken)
    {
        if (inputs.Count == 0) throw new ArgumentException("no inputs");
        for (int i = 0; i < inputs.Count; i++) CheckTokens(inputs[i], i);
        if (dimensions is { } d && (d < 1 || d > EmbeddingSize))
            throw new ArgumentException($"dimensions must be between 1 and {EmbeddingSize} for model '{_modelName}', got {d}");
        var work = new EmbeddingWork(inputs, pooling, dimensions, cancellationToken);
        _work.Enqueue(work);
        return work.Result.Task;
    }

    /// <summary>Queues the scoring of a prompt's own tokens with <paramref name="top"/> alternatives each.</summary>
    public Task<IReadOnlyList<PromptLogprob>> Score(int[] tokens, int top, CancellationToken cancellationToken)
    {
        var work = new EmbeddingWork([tokens], EmbeddingPooling.LastToken, null, cancellationToken) { PromptTop = top };
        _work.Enqueue(work);
        return work.Scored.Task;
    }

    /// <summary>Runs the queued work (on the scheduler thread, between steps).</summary>
    public void RunPending()
    {
        while (_work.TryDequeue(out var work))
        {
            if (work.Cancellation.IsCancellationRequested) { work.Result.TrySetCanceled(work.Cancellation); work.Scored.TrySetCanceled(work.Cancellation); continue; }
            if (work.PromptTop is { } top)
            {
                try { work.Scored.TrySetResult(ScorePrompt(work.Inputs[0], top)); }
                catch (Exception e) { work.Scored.TrySetException(e); }
                continue;
            }
            try
            {
                var vectors = new float[work.Inputs.Count][];
                for (int i = 0; i < work.Inputs.Count; i++) vectors[i] = Embed(work.Inputs[i], work.Pooling, work.Dimensions);
                work.Result.TrySetResult(vectors);
            }
            catch (Exception e)
            {
                work.Result.TrySetException(e);
            }
        }
    }

    /// <summary>Fails what is still queued (the engine stopped).</summary>
    public void CancelAll()
    {
        while (_work.TryDequeue(out var work))
        {
            work.Result.TrySetException(new ObjectDisposedException(nameof(TextEngine), "the engine stopped"));
            work.Scored.TrySetException(new ObjectDisposedException(nameof(TextEngine), "the engine stopped"));
        }
    }

    private IReadOnlyList<PromptLogprob> ScorePrompt(int[] tokens, int top)
    {
        using var scope = NewDisposeScope();
        var tok = _model.Tokenizer;
        var ids = tensor(tokens.Select(x => (long)x).ToArray(), device: _model.Device).view(1, tokens.Length);
        var logp = _model.Model.Forward(new LlamaInputs { InputIds = ids, MaxPosition = tokens.Length - 1 }).Logits![0].to(ScalarType.Float32).log_softmax(-1);
        var result = new List<PromptLogprob>(tokens.Length);
        bool skipBos = tok.AddBos && tok.BosTokenId is int bos && tokens[0] == bos;
        for (int i = skipBos ? 1 : 0; i < tokens.Length; i++)
        {
            var bytes = tok.TokenBytes(tokens[i]).ToArray();
            if (i == 0) { result.Add(new PromptLogprob(tokens[i], bytes, null, null)); continue; }
            var row = logp[i - 1];
            var alternatives = new List<TopLogprob>();
            if (top > 0)
            {
                var (values, topIds) = row.topk(top);
                var v = values.to(CPU).data<float>().ToArray();
                var t = topIds.to(CPU).data<long>().ToArray();
                for (int k = 0; k < v.Length; k++) alternatives.Add(new TopLogprob((int)t[k], tok.TokenBytes((int)t[k]).ToArray(), v[k]));
            }
            result.Add(new PromptLogprob(tokens[i], bytes, row[tokens[i]].to(CPU).item<float>(), alternatives));
        }
        return result;
    }

    private float[] Embed(int[] tokens, EmbeddingPooling pooling, int? dimensions)
    {
        using var scope = NewDisposeScope();
        var ids = tensor(tokens.Select(x => (long)x).ToArray(), device: _model.Device).view(1, tokens.Length);
        var (_, normed) = _model.Model.model.Forward(new LlamaInputs { InputIds = ids, MaxPosition = tokens.Length - 1 });
        var states = normed[0].to(ScalarType.Float32);             // [T, hidden]
        var pooled = pooling == EmbeddingPooling.Mean ? states.mean([0]) : states[tokens.Length - 1];
        if (dimensions is { } d && d < EmbeddingSize) pooled = pooled.narrow(0, 0, d);
        pooled = pooled / pooled.norm().clamp_min(1e-12);
        return pooled.to(CPU).contiguous().data<float>().ToArray();
    }

    private sealed record EmbeddingWork(IReadOnlyList<int[]> Inputs, EmbeddingPooling Pooling, int? Dimensions, CancellationToken Cancellation)
    {
        public TaskCompletionSource<float[][]> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        /// <summary>Set for prompt scoring: the number of alternatives per token.</summary>
        public int? PromptTop { get; init; }
        public TaskCompletionSource<IReadOnlyList<PromptLogprob>> Scored { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
