using System.Diagnostics;
using LLama;
using LLama.Common;
using LLama.Native;

namespace Platform.Bench.Engine;

/// <summary>
/// llama.cpp (through LLamaSharp 0.30.0's low-level API) as the peer: greedy decode and prefill timings, and
/// logits at every position for the parity check, and its own batched decode of several sequences. Same thread
/// count as our engine. <c>llamaDefaults</c> leaves the KV cache type and flash attention at llama.cpp's defaults
/// (what its users get; the timed runs); otherwise both are pinned to float32 / off so logits compare position by
/// position (the parity run). It runs in its own process (<see cref="PeerProcess"/>).
/// </summary>
internal sealed class LlamaCppPeer : IDisposable
{
    private static bool _logConfigured;
    private readonly LLamaWeights _weights;
    private readonly LLamaContext _context;
    private readonly ModelParams _params;
    private readonly LLamaBatch _batch = new();

    public LlamaCppPeer(string ggufPath, int threads, int contextTokens, bool llamaDefaults = false, int sequences = 1)
    {
        if (!_logConfigured)
        {
            // Keep llama.cpp's loader chatter out of the table; errors still reach stderr.
            NativeLibraryConfig.All.WithLogCallback((level, message) =>
            {
                if (level == LLamaLogLevel.Error) Console.Error.Write(message);
            });
            _logConfigured = true;
        }
        _params = new ModelParams(ggufPath)
        {
            ContextSize = (uint)contextTokens,
            BatchSize = (uint)contextTokens,
            UBatchSize = 512,
            Threads = threads,
            BatchThreads = threads,
            GpuLayerCount = 0,
            SeqMax = (uint)sequences,
        };
        if (!llamaDefaults)
        {
            // float32 cache like our engine; without flash attention so logits are comparable position by position.
            _params.TypeK = GGMLType.GGML_TYPE_F32;
            _params.TypeV = GGMLType.GGML_TYPE_F32;
            _params.FlashAttention = false;
        }
        _weights = LLamaWeights.LoadFromFile(_params);
        _context = new LLamaContext(_weights, _params);
        VocabSize = _weights.Vocab.Count;
    }

    public int VocabSize { get; }

    /// <summary>llama.cpp's tokenization of <paramref name="text"/> with the file's vocabulary (no BOS, control tokens matched).</summary>
    public int[] Tokenize(string text) =>
        _weights.Tokenize(text, add_bos: false, special: true, System.Text.Encoding.UTF8).Select(t => (int)t).ToArray();

    /// <summary>Seconds to prefill <paramref name="prompt"/> from an empty cache (logits for the last token only).</summary>
    public double Prefill(IReadOnlyList<int> prompt)
    {
        _context.NativeHandle.MemoryClear(true);
        var sw = Stopwatch.StartNew();
        DecodeChunked(prompt, 0, allLogits: false);
        return sw.Elapsed.TotalSeconds;
    }

    /// <summary>Greedy decode of <paramref name="newTokens"/> tokens after <paramref name="prompt"/>; returns the
    /// tokens and the seconds spent in the decode loop (prefill excluded). End-of-sequence is not special here.</summary>
    public (int[] Tokens, double Seconds) Generate(IReadOnlyList<int> prompt, int newTokens)
    {
        _context.NativeHandle.MemoryClear(true);
        DecodeChunked(prompt, 0, allLogits: false);
        var output = new int[newTokens];
        int next = ArgMax(_context.NativeHandle.GetLogitsIth(_batch.TokenCount - 1));
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < newTokens; i++)
        {
            output[i] = next;
            if (i == newTokens - 1) break;
            _batch.Clear();
            _batch.Add((LLamaToken)next, (LLamaPos)(prompt.Count + i), (LLamaSeqId)0, true);
            Check(_context.NativeHandle.Decode(_batch));
            next = ArgMax(_context.NativeHandle.GetLogitsIth(0));
        }
        return (output, sw.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// llama.cpp's own batched decode: every prompt in one batch (sequence s = prompt s), then one llama_decode per
    /// step carrying one new token for each sequence, greedy. Returns the aggregate decode rate once all sequences
    /// decode (tokens after the first per sequence / time of the step loop) and end to end (prefill included).
    /// </summary>
    public (double SteadyTokS, double EndToEndTokS) Batched(IReadOnlyList<int[]> prompts, int newTokens)
    {
        _context.NativeHandle.MemoryClear(true);
        var total = Stopwatch.StartNew();
        _batch.Clear();
        var lastIndex = new int[prompts.Count];
        for (int s = 0; s < prompts.Count; s++)
            for (int i = 0; i < prompts[s].Length; i++)
            {
                if (i == prompts[s].Length - 1) lastIndex[s] = _batch.TokenCount;
                _batch.Add((LLamaToken)prompts[s][i], (LLamaPos)i, (LLamaSeqId)s, i == prompts[s].Length - 1);
            }
        Check(_context.NativeHandle.Decode(_batch));
        var next = lastIndex.Select(i => ArgMax(_context.NativeHandle.GetLogitsIth(i))).ToArray();
        var steady = Stopwatch.StartNew();
        for (int step = 1; step < newTokens; step++)
        {
            _batch.Clear();
            for (int s = 0; s < prompts.Count; s++) _batch.Add((LLamaToken)next[s], (LLamaPos)(prompts[s].Length + step - 1), (LLamaSeqId)s, true);
            Check(_context.NativeHandle.Decode(_batch));
            for (int s = 0; s < prompts.Count; s++) next[s] = ArgMax(_context.NativeHandle.GetLogitsIth(s));
        }
        double steadySeconds = steady.Elapsed.TotalSeconds, totalSeconds = total.Elapsed.TotalSeconds;
        return (prompts.Count * (newTokens - 1) / steadySeconds, prompts.Count * newTokens / totalSeconds);
    }

    /// <summary>Logits [positions][vocab] for every position of <paramref name="tokens"/> (one sequence from position 0).</summary>
    public float[][] Logits(IReadOnlyList<int> tokens)
    {
        _context.NativeHandle.MemoryClear(true);
        var result = new float[tokens.Count][];
        int done = 0;
        while (done < tokens.Count)
        {
            int n = Math.Min(512, tokens.Count - done);
            _batch.Clear();
            for (int i = 0; i < n; i++) _batch.Add((LLamaToken)tokens[done + i], (LLamaPos)(done + i), (LLamaSeqId)0, true);
            Check(_context.NativeHandle.Decode(_batch));
            for (int i = 0; i < n; i++) result[done + i] = _context.NativeHandle.GetLogitsIth(i).ToArray();
            done += n;
        }
        return result;
    }

    /// <summary>Logits [positions][vocab] of <paramref name="tokens"/> fed one llama_decode per token (its decode
    /// path: one-row matrix products, the cache read at every step), for comparing its two paths with each other.</summary>
    public float[][] DecodeLogits(IReadOnlyList<int> tokens)
    {
        _context.NativeHandle.MemoryClear(true);
        var result = new float[tokens.Count][];
        for (int i = 0; i < tokens.Count; i++)
        {
            _batch.Clear();
            _batch.Add((LLamaToken)tokens[i], (LLamaPos)i, (LLamaSeqId)0, true);
            Check(_context.NativeHandle.Decode(_batch));
            result[i] = _context.NativeHandle.GetLogitsIth(0).ToArray();
        }
        return result;
    }

    private void DecodeChunked(IReadOnlyList<int> tokens, int startPos, bool allLogits)
    {
        int batchMax = (int)_params.BatchSize;
        for (int done = 0; done < tokens.Count;)
        {
            int n = Math.Min(batchMax, tokens.Count - done);
            _batch.Clear();
            for (int i = 0; i < n; i++)
                _batch.Add((LLamaToken)tokens[done + i], (LLamaPos)(startPos + done + i), (LLamaSeqId)0, allLogits || done + i == tokens.Count - 1);
            Check(_context.NativeHandle.Decode(_batch));
            done += n;
        }
    }

    private static void Check(DecodeResult rc)
    {
        if (rc != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode failed: {rc}");
    }

    internal static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }

    public void Dispose()
    {
        _context.Dispose();
        _weights.Dispose();
    }
}
