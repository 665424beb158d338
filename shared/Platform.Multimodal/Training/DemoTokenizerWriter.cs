using System.Text;
using System.Text.RegularExpressions;
using Platform.Inference.Tokenization;

namespace Platform.Multimodal.Training;

/// <summary>
/// Writes a byte-level BPE tokenizer.json (the GPT-2 layout the engine's <see cref="TokenizerLoader"/> reads) trained
/// on the demo world's own text, so every world word becomes one token and prompts stay short. Hand-written BPE
/// training because Microsoft.ML.Tokenizers only encodes; ids: special tokens, the 256 bytes, then merges.
/// </summary>
public static class DemoTokenizerWriter
{
    public static readonly string[] BaseSpecialTokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

    public static int Write(string folder, IEnumerable<string> corpus, IReadOnlyList<string> extraSpecialTokens, int maxMerges = 1000)
    {
        var specials = BaseSpecialTokens.Concat(extraSpecialTokens).ToArray();
        var file = new ByteLevelBpeFile(specials);
        var specialPattern = new Regex(string.Join("|", specials.Select(Regex.Escape)));
        var wordCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        var pre = new Regex(TokenizerLoader.Gpt2Pattern);
        foreach (var text in corpus)
            foreach (var piece in specialPattern.Split(text))
                foreach (Match m in pre.Matches(piece))
                {
                    var w = ByteLevel.Encode(Encoding.UTF8.GetBytes(m.Value));
                    wordCounts[w] = wordCounts.GetValueOrDefault(w) + 1;
                }
        foreach (var (a, b) in TrainBpe(wordCounts, maxMerges)) file.TryAddMerge(a, b);
        file.Write(folder);
        return file.NextId;
    }

    /// <summary>BPE training (Sennrich et al. 2016) over distinct words weighted by count; ties broken ordinally so
    /// the result is the same on every machine. Stops when no pair occurs twice.</summary>
    private static List<(string, string)> TrainBpe(Dictionary<string, int> wordCounts, int maxMerges)
    {
        var words = wordCounts.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => (Symbols: kv.Key.Select(c => c.ToString()).ToList(), Count: kv.Value)).ToList();
        var merges = new List<(string, string)>();
        for (int step = 0; step < maxMerges; step++)
        {
            var freq = new Dictionary<(string, string), int>();
            foreach (var (w, count) in words)
                for (int i = 0; i + 1 < w.Count; i++)
                    freq[(w[i], w[i + 1])] = freq.GetValueOrDefault((w[i], w[i + 1])) + count;
            if (freq.Count == 0) break;
            var best = freq.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key.Item1, StringComparer.Ordinal).ThenBy(kv => kv.Key.Item2, StringComparer.Ordinal).First();
            if (best.Value < 2) break;
            merges.Add(best.Key);
            foreach (var (w, _) in words)
                for (int i = 0; i + 1 < w.Count; i++)
                    if (w[i] == best.Key.Item1 && w[i + 1] == best.Key.Item2) { w[i] += w[i + 1]; w.RemoveAt(i + 1); }
        }
        return merges;
    }
}
