using System.Diagnostics;
using LLama;
using LLama.Common;
using LLama.Native;

namespace Platform.Bench.Engine;

/// <summary>
/// llama.cpp (through LLamaSharp 0.30.0's low-level API) as the peer: greedy decode and prefill timings, and
/// logits at every position for the parity check. Same thread count as our engine, float32 weights and KV cache.
/// </summary>
internal sealed class LlamaCppPeer : IDisposable
{
    private static bool _logConfigured;
    private readonly LLamaWeights _weights;
    private readonly LLamaContext _context;
    private readonly ModelParams _params;
    private readonly LLamaBatch _batch = new();

    public LlamaCppPeer(string ggufPath, int threads, int contextTokens)
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
            // float32 cache like our engine; without flash attention so logits are comparable position by position.
            TypeK = GGMLType.GGML_TYPE_F32,
            TypeV = GGMLType.GGML_TYPE_F32,
            FlashAttention = false,
        };
        _weights = LLamaWeights.LoadFromFile(_params);
        _context = new LLamaContext(_weights, _params);
        VocabSize = _weights.Vocab.Count;
    }

    public int VocabSize { get; }

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
