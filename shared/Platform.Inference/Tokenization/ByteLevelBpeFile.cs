using System.Text.Json;
using System.Text.Json.Nodes;

namespace Platform.Inference.Tokenization;

/// <summary>
/// Builds a Hugging Face byte-level BPE tokenizer.json (the GPT-2 layout <see cref="TokenizerLoader"/> reads):
/// ids are the special tokens, then the 256 byte symbols, then the merges the caller adds. Shared by the tiny test
/// models and the demo-model trainer; each brings its own BPE training.
/// </summary>
public sealed class ByteLevelBpeFile
{
    private readonly JsonArray _added = [];
    private readonly JsonArray _merges = [];

    public ByteLevelBpeFile(IEnumerable<string> specialTokens)
    {
        foreach (var s in specialTokens)
        {
            _added.Add(new JsonObject { ["id"] = NextId, ["content"] = s, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true });
            Vocab[s] = NextId++;
        }
        for (int b = 0; b < 256; b++) Vocab[ByteLevel.Encode((byte)b).ToString()] = NextId++;
    }

    public JsonObject Vocab { get; } = new();

    /// <summary>The id the next merge gets (equals the vocabulary size so far).</summary>
    public int NextId { get; private set; }

    /// <summary>Adds the merge a+b as a new token unless that token exists already; returns whether it was added.</summary>
    public bool TryAddMerge(string a, string b)
    {
        if (Vocab.ContainsKey(a + b)) return false;
        Vocab[a + b] = NextId++;
        _merges.Add($"{a} {b}");
        return true;
    }

    public void Write(string folder)
    {
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = _added,
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true },
            ["post_processor"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = false, ["use_regex"] = true },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null, ["fuse_unk"] = false, ["byte_fallback"] = false, ["vocab"] = Vocab, ["merges"] = _merges,
            },
        };
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), root.ToJsonString(new JsonSerializerOptions { WriteIndented = false }));
    }
}
