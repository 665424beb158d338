using System.Text.Json;
using System.Text.Json.Nodes;
using Platform.Inference.Engine;
using Platform.Inference.Loading;
using Platform.Inference.Tokenization;

namespace Platform.Inference.Gguf;

/// <summary>
/// The text tokenizer of a GGUF file, from its tokenizer.ggml.* metadata (llama.cpp's llama-vocab.cpp reads the
/// same keys). Byte-level BPE ("gpt2") only, built by the same code as a Hugging Face tokenizer.json: Normal tokens
/// are the BPE vocabulary, Control and UserDefined tokens are added (special) tokens, and tokenizer.ggml.pre names
/// the pre-tokenizer regex the way llama.cpp does (llama-bpe, qwen2; GPT-2's otherwise).
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
        string model = md.TryGetValue("tokenizer.ggml.model", out var m) ? m.AsString() : "none";
        if (model != "gpt2")
            throw new ModelLoadException($"{gguf.Path}: tokenizer.ggml.model '{model}' is not supported (only byte-level BPE, \"gpt2\"; a file without a vocabulary cannot serve text)");
        var tokens = md["tokenizer.ggml.tokens"].AsArray<string>();
        var types = md.TryGetValue("tokenizer.ggml.token_type", out var tt) ? tt.AsArray<int>() : Enumerable.Repeat((int)GgufTokenType.Normal, tokens.Length).ToArray();
        var merges = md.TryGetValue("tokenizer.ggml.merges", out var mg) ? mg.AsArray<string>() : [];
        if (types.Length != tokens.Length)
            throw new ModelLoadException($"{gguf.Path}: tokenizer.ggml.token_type has {types.Length} entries for {tokens.Length} tokens");

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

    /// <summary>The text of the token whose id metadata key <paramref name="key"/> holds, if any.</summary>
    public static string? TokenText(GgufReader gguf, string key, IReadOnlyList<string> tokens) =>
        TokenId(gguf, key) is int id && id < tokens.Count ? tokens[id] : null;

    public static int? TokenId(GgufReader gguf, string key) =>
        gguf.Metadata.TryGetValue(key, out var v) && v.Type != GgufValueType.Array ? Convert.ToInt32(v.Value) : null;
}
