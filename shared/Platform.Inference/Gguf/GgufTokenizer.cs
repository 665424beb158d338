using System.Text.Json;
using System.Text.Json.Nodes;
using Platform.Inference.Engine;
using Platform.Inference.Loading;
using Platform.Inference.Tokenization;

namespace Platform.Inference.Gguf;

/// <summary>
/// The text tokenizer of a GGUF file, from its tokenizer.ggml.* metadata (llama.cpp's llama-vocab.cpp reads the
/// same keys), built by the same code as a Hugging Face folder's tokenizer. Byte-level BPE ("gpt2", as a
/// tokenizer.json): Normal tokens are the BPE vocabulary, Control and UserDefined tokens are added (special) tokens,
/// and tokenizer.ggml.pre names the pre-tokenizer regex the way llama.cpp does (llama-bpe, qwen2; GPT-2's otherwise).
/// SentencePiece ("llama", as a tokenizer.model): tokens, scores and types go to <see cref="SentencePieceBpe"/>,
/// which encodes as llama.cpp's SPM tokenizer does.
/// </summary>
public static class GgufTokenizer
{
    /// <summary>llama.cpp's LLAMA_VOCAB_PRE_TYPE_LLAMA3 regex (Llama 3's tokenizer.json Split pattern).</summary>
    public const string Llama3Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    /// <summary>llama.cpp's LLAMA_VOCAB_PRE_TYPE_QWEN2 regex (single digits).</summary>
    public const string Qwen2Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    public static TextTokenizer Load(GgufReader gguf)
    {
        var md = gguf.Metadata;
        string model = md.TryGetValue("tokenizer.ggml.model", out var m) && m.Type == GgufValueType.String ? m.AsString() : "none";
        if (model is not ("gpt2" or "llama"))
            throw new ModelLoadException($"{gguf.Path}: tokenizer.ggml.model '{model}' is not supported (byte-level BPE, \"gpt2\", and SentencePiece, \"llama\"; a file without a vocabulary cannot serve text)");
        var tokens = Array<string>(gguf, "tokenizer.ggml.tokens") ?? throw new ModelLoadException($"{gguf.Path}: tokenizer.ggml.tokens is missing");
        var types = Array<int>(gguf, "tokenizer.ggml.token_type") ?? Enumerable.Repeat((int)GgufTokenType.Normal, tokens.Length).ToArray();
        if (types.Length != tokens.Length)
            throw new ModelLoadException($"{gguf.Path}: tokenizer.ggml.token_type has {types.Length} entries for {tokens.Length} tokens");
        if (types.FirstOrDefault(t => !Enum.IsDefined((GgufTokenType)t), 0) is int bad and not 0)
            throw new ModelLoadException($"{gguf.Path}: tokenizer.ggml.token_type has the value {bad} (1..6 are defined)");
        if (model == "llama") return LoadSentencePiece(gguf, tokens, types);
        var merges = Array<string>(gguf, "tokenizer.ggml.merges") ?? [];

        var vocab = new JsonObject();
        var added = new JsonArray();
        for (int id = 0; id < tokens.Length; id++)
        {
            switch ((GgufTokenType)types[id])
            {
                case GgufTokenType.Control or GgufTokenType.UserDefined:
                    added.Add(new JsonObject { ["id"] = id, ["content"] = tokens[id], ["special"] = types[id] == (int)GgufTokenType.Control });
                    break;
                case GgufTokenType.Unused:
                    break;
                default:
                    vocab[tokens[id]] = id;
                    break;
            }
        }
        string pre = md.TryGetValue("tokenizer.ggml.pre", out var p) ? p.AsString() : "default";
        var pretokenizers = new JsonArray();
        string? split = pre switch { "llama-bpe" or "llama3" => Llama3Pattern, "qwen2" => Qwen2Pattern, _ => null };
        if (split is not null) pretokenizers.Add(new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = split } });
        pretokenizers.Add(new JsonObject { ["type"] = "ByteLevel" });
        var root = new JsonObject
        {
            ["model"] = new JsonObject { ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = new JsonArray(merges.Select(x => (JsonNode)x!).ToArray()) },
            ["added_tokens"] = added,
            ["pre_tokenizer"] = new JsonObject { ["type"] = "Sequence", ["pretokenizers"] = pretokenizers },
        };
        var config = new JsonObject();
        if (TokenText(gguf, "tokenizer.ggml.bos_token_id", tokens) is { } bos) config["bos_token"] = bos;
        if (TokenText(gguf, "tokenizer.ggml.eos_token_id", tokens) is { } eos) config["eos_token"] = eos;
        config["add_bos_token"] = md.TryGetValue("tokenizer.ggml.add_bos_token", out var ab) && ab.AsBool();
        return TokenizerLoader.LoadByteLevel(gguf.Path, JsonSerializer.SerializeToElement(root), JsonSerializer.SerializeToElement(config));
    }

    /// <summary>
    /// A SentencePiece ("llama") vocabulary, with llama.cpp's defaults for absent keys (llama-vocab.cpp, load):
    /// scores 0, bos 1, eos 2, unknown 0, add_bos_token and add_space_prefix true, add_eos_token false. llama.cpp
    /// always falls back to byte pieces for characters outside the vocabulary, so every byte needs one.
    /// </summary>
    private static TextTokenizer LoadSentencePiece(GgufReader gguf, string[] tokens, int[] types)
    {
        var scores = Array<float>(gguf, "tokenizer.ggml.scores") ?? new float[tokens.Length];
        if (scores.Length != tokens.Length)
            throw new ModelLoadException($"{gguf.Path}: tokenizer.ggml.scores has {scores.Length} entries for {tokens.Length} tokens");
        int? Id(string key, int? fallback)
        {
            int? id = gguf.Metadata.ContainsKey(key) ? TokenId(gguf, key) ?? throw new ModelLoadException($"{gguf.Path}: {key} is not an integer") : fallback;
            if (id is int i && (i < 0 || i >= tokens.Length))
                throw new ModelLoadException($"{gguf.Path}: {key} = {i} is outside the vocabulary (0..{tokens.Length - 1})");
            return id;
        }
        int? bos = Id("tokenizer.ggml.bos_token_id", 1), eos = Id("tokenizer.ggml.eos_token_id", 2);
        int unknown = Id("tokenizer.ggml.unknown_token_id", 0) ?? 0;
        Id("tokenizer.ggml.padding_token_id", null);
        return TokenizerLoader.SentencePiece(gguf.Path, "tokenizer.ggml.tokens", tokens, scores, types.Select(t => (GgufTokenType)t).ToArray(),
            new Dictionary<string, int>(), byteFallback: true, unknown, bos, eos,
            addBos: Bool(gguf, "tokenizer.ggml.add_bos_token") ?? true, addEos: Bool(gguf, "tokenizer.ggml.add_eos_token") ?? false,
            addSpacePrefix: Bool(gguf, "tokenizer.ggml.add_space_prefix") ?? true, removeExtraWhitespaces: false,
            rightStripped: Phi3RightStripped(gguf, tokens, types));
    }

    /// <summary>
    /// llama.cpp sets one token attribute by model name (llama-vocab.cpp, "set attributes by model/tokenizer/architecture
    /// name"): in a file whose general.name contains "phi-3" or "phi3" every special token except &lt;unk&gt;, &lt;s&gt; and
    /// &lt;|endoftext|&gt; swallows the whitespace after it, as Phi-3's own added tokens do (rstrip) in Hugging Face.
    /// </summary>
    private static HashSet<int>? Phi3RightStripped(GgufReader gguf, string[] tokens, int[] types)
    {
        string name = gguf.Metadata.TryGetValue("general.name", out var n) && n.Type == GgufValueType.String ? n.AsString().ToLowerInvariant() : "";
        if (!name.Contains("phi-3", StringComparison.Ordinal) && !name.Contains("phi3", StringComparison.Ordinal)) return null;
        var ids = new HashSet<int>();
        for (int id = 0; id < tokens.Length; id++)
            if ((GgufTokenType)types[id] is GgufTokenType.Control or GgufTokenType.UserDefined or GgufTokenType.Unknown || tokens[id] == "</s>")
                ids.Add(id);
        ids.RemoveWhere(id => tokens[id] is "<unk>" or "<s>" or "<|endoftext|>");
        return ids;
    }

    private static T[]? Array<T>(GgufReader gguf, string key)
    {
        if (!gguf.Metadata.TryGetValue(key, out var v)) return null;
        return v.Type == GgufValueType.Array && v.Value is T[] a ? a
            : throw new ModelLoadException($"{gguf.Path}: {key} is {v.Type}{(v.ElementType is { } e ? $" of {e}" : "")}, not an array of {typeof(T).Name}");
    }

    private static bool? Bool(GgufReader gguf, string key)
    {
        if (!gguf.Metadata.TryGetValue(key, out var v)) return null;
        return v.Type == GgufValueType.Bool ? v.AsBool() : throw new ModelLoadException($"{gguf.Path}: {key} is {v.Type}, not a bool");
    }

    /// <summary>The text of the token whose id metadata key <paramref name="key"/> holds, if any.</summary>
    public static string? TokenText(GgufReader gguf, string key, IReadOnlyList<string> tokens) =>
        TokenId(gguf, key) is int id && id < tokens.Count ? tokens[id] : null;

    public static int? TokenId(GgufReader gguf, string key) =>
        gguf.Metadata.TryGetValue(key, out var v) && v.Type != GgufValueType.Array ? Convert.ToInt32(v.Value) : null;
}
