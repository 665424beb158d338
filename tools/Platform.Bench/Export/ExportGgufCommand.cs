using System.Diagnostics;
using Platform.Bench.Engine;
using Platform.Inference.Engine;
using Platform.Inference.Gguf;
using Platform.Inference.Loading;

namespace Platform.Bench.Export;

/// <summary>
/// <c>export-gguf &lt;hf-folder&gt; &lt;out.gguf&gt; [--verify] [--threads N]</c>: writes a float32 GGUF that llama.cpp runs.
/// With --verify it loads the file in llama.cpp and compares its tokenization of a short text and its logits with our engine's.
/// Lives in the benchmark tool because that is where llama.cpp (LLamaSharp) is referenced for the check.
/// </summary>
internal static class ExportGgufCommand
{
    public static int Run(string[] args)
    {
        var positional = args.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToList();
        bool verify = args.Contains("--verify");
        int threads = Environment.ProcessorCount;
        int ti = Array.IndexOf(args, "--threads");
        if (ti >= 0)
        {
            if (ti + 1 >= args.Length || !int.TryParse(args[ti + 1], out threads) || threads < 1)
            {
                Console.Error.WriteLine("export-gguf: --threads needs a positive integer");
                return 2;
            }
            positional.Remove(args[ti + 1]);
        }
        if (positional.Count != 2)
        {
            Console.Error.WriteLine("usage: export-gguf <hf-model-folder> <out.gguf> [--verify] [--threads N]");
            return 2;
        }
        string folder = positional[0], output = positional[1];
        try
        {
            var sw = Stopwatch.StartNew();
            var result = HfGgufExporter.ExportFolder(folder, output);
            Console.WriteLine($"wrote {result.Path}: {result.Architecture}, {result.TensorCount} tensors, {result.FileBytes / 1048576.0:F1} MiB, vocabulary '{result.VocabularyModel}' in {sw.Elapsed.TotalSeconds:F1} s");
            if (result.VocabularyNote is { } note) Console.WriteLine($"note: {note}");
            if (!verify) return 0;

            TorchSharp.torch.set_num_threads(threads);
            using var loaded = ModelLoader.Load(folder);
            const string text = "The quick brown fox  jumps over the lazy dog.\nHello world! Café, 日本語 😀";
            var encoded = loaded.Tokenizer.Encode(text).ToArray();
            var tokens = encoded.Take(32).ToArray();
            if (tokens.Length == 0) tokens = [0];
            var ours = LogitParity.OurLogits(loaded.Model, tokens);
            using var peer = new LlamaCppPeer(output, threads, Math.Max(64, tokens.Length));
            bool sameIds = true;
            if (result.VocabularyModel != "none")
            {
                // The exported vocabulary must tokenize in llama.cpp as the folder's tokenizer does in ours.
                var theirs = peer.Tokenize(text);
                sameIds = theirs.SequenceEqual(encoded);
                int at = Enumerable.Range(0, Math.Min(theirs.Length, encoded.Length)).FirstOrDefault(i => theirs[i] != encoded[i], Math.Min(theirs.Length, encoded.Length));
                Console.WriteLine(sameIds ? $"verify: llama.cpp tokenizes the test text into the same {encoded.Length} ids"
                    : $"verify: llama.cpp tokenizes the test text differently ({theirs.Length} ids vs our {encoded.Length}, first difference at {at})");
            }
            double rel = LogitParity.MaxRelativeDifference(ours, peer.Logits(tokens));
            Console.WriteLine($"verify: llama.cpp vs our engine over {tokens.Length} positions: max relative logit difference {rel:E2}");
            return rel < 1e-3 && sameIds ? 0 : 1;
        }
        catch (Exception e) when (e is ModelLoadException or LLama.Exceptions.LoadWeightsFailedException or IOException or InvalidDataException or NotSupportedException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"export-gguf: {e.Message}");
            return 1;
        }
    }
}
