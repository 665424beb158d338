using LLama;
using LLama.Common;
using LLama.Native;

namespace Platform.Inference.Tests.Gguf;

/// <summary>
/// Runs a GGUF file in llama.cpp (LLamaSharp 0.30.0's native build) and returns the logits of every position of
/// one token sequence: the independent reference our TorchSharp engine is compared against.
/// </summary>
internal static class LlamaCppOracle
{
    private static readonly Lock InitLock = new();
    private static bool _initialised;

    /// <summary>Silences llama.cpp's loader chatter (warnings and errors still reach stderr).</summary>
    private static void EnsureInitialised()
    {
        lock (InitLock)
        {
            if (_initialised) return;
            NativeLibraryConfig.All.WithLogCallback((level, message) =>
            {
                if (level is LLamaLogLevel.Error or LLamaLogLevel.Warning) Console.Error.Write(message);
            });
            _initialised = true;
        }
    }

    /// <summary>Logits [tokens.Count][vocab] for <paramref name="tokens"/> decoded in one batch at positions 0..n-1.</summary>
    public static float[][] Logits(string ggufPath, IReadOnlyList<int> tokens, int threads = 2)
    {
        EnsureInitialised();
        var p = new ModelParams(ggufPath)
        {
            ContextSize = (uint)Math.Max(64, tokens.Count),
            BatchSize = (uint)Math.Max(64, tokens.Count),
            UBatchSize = (uint)Math.Max(64, tokens.Count),
            Threads = threads,
            BatchThreads = threads,
            GpuLayerCount = 0,
            // float32 KV cache and no flash attention: llama.cpp's defaults (f16 cache) would add ~1e-3 noise.
            TypeK = GGMLType.GGML_TYPE_F32,
            TypeV = GGMLType.GGML_TYPE_F32,
            FlashAttention = false,
        };
        using var weights = LLamaWeights.LoadFromFile(p);
        using var context = new LLamaContext(weights, p);
        var batch = new LLamaBatch();
        for (int i = 0; i < tokens.Count; i++) batch.Add((LLamaToken)tokens[i], (LLamaPos)i, (LLamaSeqId)0, true);
        var rc = context.NativeHandle.Decode(batch);
        if (rc != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode returned {rc} for {ggufPath}.");
        var result = new float[tokens.Count][];
        for (int i = 0; i < tokens.Count; i++) result[i] = context.NativeHandle.GetLogitsIth(i).ToArray();
        return result;
    }

    /// <summary>
    /// Greedy decoding in llama.cpp: the prompt in one batch, then one token per llama_decode, each the argmax of
    /// the previous logits; returns the <paramref name="steps"/> generated tokens.
    /// </summary>
    public static int[] Greedy(string ggufPath, IReadOnlyList<int> prompt, int steps, int threads = 2)
    {
        EnsureInitialised();
        uint size = (uint)Math.Max(64, prompt.Count + steps);
        var p = new ModelParams(ggufPath)
        {
            ContextSize = size, BatchSize = size, UBatchSize = size, Threads = threads, BatchThreads = threads, GpuLayerCount = 0,
            TypeK = GGMLType.GGML_TYPE_F32, TypeV = GGMLType.GGML_TYPE_F32, FlashAttention = false,
        };
        using var weights = LLamaWeights.LoadFromFile(p);
        using var context = new LLamaContext(weights, p);
        var batch = new LLamaBatch();
        for (int i = 0; i < prompt.Count; i++) batch.Add((LLamaToken)prompt[i], (LLamaPos)i, (LLamaSeqId)0, i == prompt.Count - 1);
        var result = new int[steps];
        for (int step = 0; step < steps; step++)
        {
            var rc = context.NativeHandle.Decode(batch);
            if (rc != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode returned {rc} for {ggufPath}.");
            var logits = context.NativeHandle.GetLogitsIth(batch.TokenCount - 1);
            int best = 0;
            for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
            result[step] = best;
            batch.Clear();
            batch.Add((LLamaToken)best, (LLamaPos)(prompt.Count + step), (LLamaSeqId)0, true);
        }
        return result;
    }

    /// <summary>Quantizes a GGUF file with llama.cpp's own quantizer (llama_model_quantize).</summary>
    public static void Quantize(string source, string destination, LLamaFtype type)
    {
        EnsureInitialised();
        // LLamaQuantizer calls llama.cpp directly; NativeApi's static constructor is what finds and loads the library.
        NativeApi.llama_empty_call();
        if (!LLamaQuantizer.Quantize(source, destination, type, nthread: 1))
            throw new InvalidOperationException($"llama.cpp could not quantize {source} to {type}.");
    }

    /// <summary>Tokenizes <paramref name="text"/> with the GGUF's own vocabulary (no BOS, no special-token parsing).</summary>
    public static int[] Tokenize(string ggufPath, string text) => Tokenize(ggufPath, text, addBos: false, special: false);

    /// <summary>llama_tokenize: <paramref name="addBos"/> adds the vocabulary's BOS (and EOS) when it asks for them,
    /// <paramref name="special"/> matches control tokens written in the text.</summary>
    public static int[] Tokenize(string ggufPath, string text, bool addBos, bool special) => TokenizeAll(ggufPath, [text], addBos, special)[0];

    /// <summary><see cref="Tokenize(string, string, bool, bool)"/> for many texts, the vocabulary loaded once.</summary>
    public static int[][] TokenizeAll(string ggufPath, IReadOnlyList<string> texts, bool addBos, bool special)
    {
        EnsureInitialised();
        var p = new ModelParams(ggufPath) { VocabOnly = true, GpuLayerCount = 0 };
        using var weights = LLamaWeights.LoadFromFile(p);
        return texts.Select(text => weights.Tokenize(text, add_bos: addBos, special: special, System.Text.Encoding.UTF8).Select(t => (int)t).ToArray()).ToArray();
    }

    /// <summary>
    /// llama.cpp's detokenizer (llama_detokenize's loop over llama_token_to_piece): the leading space of the first
    /// piece dropped (add_space_prefix), special tokens rendered as their text.
    /// </summary>
    public static string Detokenize(string ggufPath, IReadOnlyList<int> tokens) => DetokenizeAll(ggufPath, [tokens])[0];

    /// <summary><see cref="Detokenize"/> for many sequences, the vocabulary loaded once.</summary>
    public static string[] DetokenizeAll(string ggufPath, IReadOnlyList<IReadOnlyList<int>> sequences)
    {
        EnsureInitialised();
        var p = new ModelParams(ggufPath) { VocabOnly = true, GpuLayerCount = 0 };
        using var weights = LLamaWeights.LoadFromFile(p);
        var buffer = new byte[256];
        return sequences.Select(tokens =>
        {
            var bytes = new List<byte>();
            for (int i = 0; i < tokens.Count; i++)
            {
                var n = weights.NativeHandle.TokenToSpan((LLamaToken)tokens[i], buffer, lstrip: i == 0 ? 1 : 0, special: true);
                bytes.AddRange(buffer.AsSpan(0, (int)n).ToArray());
            }
            return System.Text.Encoding.UTF8.GetString(bytes.ToArray());
        }).ToArray();
    }

    /// <summary>
    /// Max over positions of max_i |a_i - b_i| / max_i |b_i|: the error relative to the logit scale of each
    /// position (element-wise relative error is meaningless for logits near zero).
    /// </summary>
    public static double MaxRelativeDifference(float[][] ours, float[][] reference)
    {
        if (ours.Length != reference.Length) throw new ArgumentException($"{ours.Length} positions vs {reference.Length}.");
        double worst = 0;
        for (int t = 0; t < ours.Length; t++)
        {
            if (ours[t].Length != reference[t].Length) throw new ArgumentException($"position {t}: vocab {ours[t].Length} vs {reference[t].Length}.");
            double maxDiff = 0, scale = 1e-12;
            for (int i = 0; i < ours[t].Length; i++)
            {
                maxDiff = Math.Max(maxDiff, Math.Abs(ours[t][i] - reference[t][i]));
                scale = Math.Max(scale, Math.Abs(reference[t][i]));
            }
            worst = Math.Max(worst, maxDiff / scale);
        }
        return worst;
    }
}
