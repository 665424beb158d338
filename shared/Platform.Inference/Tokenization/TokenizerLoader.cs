using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;
using Platform.Inference.Engine;
using Platform.Inference.Gguf;

namespace Platform.Inference.Tokenization;

/// <summary>
/// Loads a Hugging Face tokenizer folder. tokenizer.json (byte-level BPE) is parsed here because
/// Microsoft.ML.Tokenizers 2.0.1 has no reader for it, then handed to BpeTokenizer.Create; tokenizer.model
/// (SentencePiece BPE) is read by <see cref="SentencePieceModelProto"/> and encoded by <see cref="SentencePieceBpe"/>.
/// </summary>
public static class TokenizerLoader
{
    /// <summary>GPT-2's pre-tokenization regex (the ByteLevel pre-tokenizer's default when use_regex is true).</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    public static TextTokenizer Load(string folder)
    {
        var jsonPath = Path.Combine(folder, "tokenizer.json");
        var spPath = Path.Combine(folder, "tokenizer.model");
        var configPath = Path.Combine(folder, "tokenizer_config.json");
        JsonElement? tokenizerConfig = null;
        if (File.Exists(configPath))
        {
            try { tokenizerConfig = JsonDocument.Parse(File.ReadAllText(configPath)).RootElement.Clone(); }
            catch (JsonException e) { throw new ModelLoadException($"{configPath}: invalid JSON: {e.Message}", e); }
        }

        if (File.Exists(jsonPath))
        {
            JsonElement root;
            try { root = JsonDocument.Parse(File.ReadAllText(jsonPath)).RootElement.Clone(); }
            catch (JsonException e) { throw new ModelLoadException($"{jsonPath}: invalid JSON: {e.Message}", e); }
            if (IsByteLevelBpe(root)) return LoadByteLevel(jsonPath, root, tokenizerConfig);
            if (!File.Exists(spPath))
                throw new ModelLoadException($"{jsonPath}: unsupported tokenizer (only byte-level BPE is read from tokenizer.json) and no tokenizer.model beside it");
        }
        if (File.Exists(spPath)) return LoadSentencePiece(spPath, tokenizerConfig);
        throw new ModelLoadException($"{jsonPath}: file not found (nor tokenizer.model)");
    }

    private static bool IsByteLevelBpe(JsonElement root)
    {
        if (!root.TryGetProperty("model", out var model) || Str(model, "type") is not ("BPE" or null)) return false;
        return HasType(root, "pre_tokenizer", "ByteLevel") || HasType(root, "decoder", "ByteLevel");
    }

    private static bool HasType(JsonElement root, string property, string type)
    {
        if (!root.TryGetProperty(property, out var e) || e.ValueKind != JsonValueKind.Object) return false;
        if (Str(e, "type") == type) return true;
        foreach (var key in new[] { "pretokenizers", "decoders" })
            if (e.TryGetProperty(key, out var list) && list.ValueKind == JsonValueKind.Array)
                if (list.EnumerateArray().Any(x => Str(x, "type") == type)) return true;
        return false;
    }

    private static string? Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    internal static TextTokenizer LoadByteLevel(string path, JsonElement root, JsonElement? config)
    {
        try
        {
            var model = root.GetProperty("model");
            var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var p in model.GetProperty("vocab").EnumerateObject()) vocab[p.Name] = p.Value.GetInt32();
            var merges = new List<string>();
            if (model.TryGetProperty("merges", out var m))
                foreach (var merge in m.EnumerateArray())
                    merges.Add(merge.ValueKind == JsonValueKind.Array ? $"{merge[0].GetString()} {merge[1].GetString()}" : merge.GetString()!);
            var special = new Dictionary<string, int>(StringComparer.Ordinal);
            if (root.TryGetProperty("added_tokens", out var added))
                foreach (var t in added.EnumerateArray())
                    special[t.GetProperty("content").GetString()!] = t.GetProperty("id").GetInt32();

            // Llama 3 / Qwen2 put their own Split regex before a ByteLevel(use_regex=false) pre-tokenizer.
            var pattern = FindSplitRegex(root) ?? Gpt2Pattern;
            var options = new BpeOptions(vocab.Where(kv => !special.ContainsKey(kv.Key)))
            {
                Merges = merges,
                SpecialTokens = special,
                ByteLevel = true,
                PreTokenizer = new RegexPreTokenizer(new Regex(pattern, RegexOptions.Compiled), special),
            };
            var bpe = BpeTokenizer.Create(options);
            var (bos, eos) = SpecialIds(config, special, vocab);
            bool addBos = ReadBool(config, "add_bos_token") ?? PostProcessorAddsBos(root, bos, special);
            return new TextTokenizer(bpe, vocab, special, bos, eos, addBos);
        }
        catch (Exception e) when (e is not ModelLoadException)
        {
            throw new ModelLoadException($"{path}: cannot build the BPE tokenizer: {e.Message}", e);
        }
    }

    private static string? FindSplitRegex(JsonElement root)
    {
        if (!root.TryGetProperty("pre_tokenizer", out var pre) || pre.ValueKind != JsonValueKind.Object) return null;
        IEnumerable<JsonElement> items = pre.TryGetProperty("pretokenizers", out var list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray() : [pre];
        foreach (var item in items)
            if (Str(item, "type") == "Split" && item.TryGetProperty("pattern", out var pat) && Str(pat, "Regex") is { } regex)
                return regex;
        return null;
    }

    private static bool PostProcessorAddsBos(JsonElement root, int? bos, IReadOnlyDictionary<string, int> special)
    {
        if (bos is null || !root.TryGetProperty("post_processor", out var pp) || pp.ValueKind != JsonValueKind.Object) return false;
        var text = pp.GetRawText();
        var bosToken = special.FirstOrDefault(kv => kv.Value == bos).Key;
        return bosToken is not null && text.Contains("TemplateProcessing", StringComparison.Ordinal) && text.Contains(JsonSerializer.Serialize(bosToken).Trim('"'), StringComparison.Ordinal);
    }

    private static TextTokenizer LoadSentencePiece(string path, JsonElement? config)
    {
        SentencePieceModelProto proto;
        try { proto = SentencePieceModelProto.Read(path); }
        catch (InvalidDataException e) { throw new ModelLoadException(e.Message, e); }
        if (proto.ModelType != SentencePieceModelProto.Bpe)
            throw new ModelLoadException($"{path}: trainer_spec.model_type {proto.ModelType} is not supported (only BPE, {SentencePieceModelProto.Bpe}; Unigram models are not read)");
        // Llama 2 / Mistral / TinyLlama use the "identity" normalizer; rules compiled into the model are not applied here.
        if (proto.PrecompiledCharsmapBytes > 0)
            throw new ModelLoadException($"{path}: normalizer_spec.precompiled_charsmap ({proto.PrecompiledCharsmapBytes} bytes of normalization rules) is not supported (only the identity normalizer)");
        if (proto.TreatWhitespaceAsSuffix || !proto.EscapeWhitespaces)
            throw new ModelLoadException($"{path}: treat_whitespace_as_suffix / escape_whitespaces = false are not supported");

        var added = new Dictionary<string, int>(StringComparer.Ordinal);
        HashSet<int> lstrip = [], rstrip = [];
        if (config is { ValueKind: JsonValueKind.Object } c && c.TryGetProperty("added_tokens_decoder", out var decoder) && decoder.ValueKind == JsonValueKind.Object)
            foreach (var p in decoder.EnumerateObject())
                if (int.TryParse(p.Name, out var id) && Str(p.Value, "content") is { } content && p.Value.TryGetProperty("special", out var sp) && sp.ValueKind == JsonValueKind.True)
                {
                    added[content] = id;
                    if (ReadBool(p.Value, "lstrip") == true) lstrip.Add(id);
                    if (ReadBool(p.Value, "rstrip") == true) rstrip.Add(id);
                }
        int? ProtoId(int id) => id >= 0 && id < proto.Pieces.Count ? id : null;
        var pieceIds = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < proto.Pieces.Count; i++) pieceIds[proto.Pieces[i]] = i;
        var (bos, eos) = SpecialIds(config, added, pieceIds);
        return SentencePiece(path, "tokenizer.model pieces", proto.Pieces, proto.Scores, proto.Types, added, proto.ByteFallback, proto.UnknownId,
            bos ?? ProtoId(proto.BosId), eos ?? ProtoId(proto.EosId), ReadBool(config, "add_bos_token") ?? true, ReadBool(config, "add_eos_token") ?? false,
            proto.AddDummyPrefix, proto.RemoveExtraWhitespaces, lstrip, rstrip);
    }

    /// <summary>
    /// A SentencePiece BPE tokenizer from pieces, scores and types by id (a tokenizer.model's or a GGUF "llama"
    /// vocabulary's). Control, unknown and user-defined pieces and <paramref name="addedSpecial"/> are special tokens:
    /// matched literally in text and decoded as their text; unused pieces decode to nothing.
    /// </summary>
    /// <param name="piecesName">What holds the pieces, for error messages (a metadata key or file field).</param>
    /// <param name="leftStripped">Special token ids that swallow the whitespace before them.</param>
    /// <param name="rightStripped">Special token ids that swallow the whitespace after them.</param>
    internal static TextTokenizer SentencePiece(string source, string piecesName, IReadOnlyList<string> pieces, IReadOnlyList<float> scores,
        IReadOnlyList<GgufTokenType> types, IReadOnlyDictionary<string, int> addedSpecial, bool byteFallback, int unknownId,
        int? bos, int? eos, bool addBos, bool addEos, bool addSpacePrefix, bool removeExtraWhitespaces,
        IReadOnlySet<int>? leftStripped = null, IReadOnlySet<int>? rightStripped = null)
    {
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        var special = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < pieces.Count; id++)
        {
            switch (types[id])
            {
                case GgufTokenType.Control or GgufTokenType.Unknown or GgufTokenType.UserDefined:
                    if (pieces[id].Length > 0) special[pieces[id]] = id;
                    break;
                case GgufTokenType.Unused:
                    break;
                default:
                    vocab[pieces[id]] = id;
                    break;
            }
        }
        foreach (var (text, id) in addedSpecial) special[text] = id;
        var spm = new SentencePieceBpe(pieces, scores, special, byteFallback, unknownId, addSpacePrefix, removeExtraWhitespaces, leftStripped, rightStripped);
        if (byteFallback && spm.FirstByteWithoutPiece is int missing)
            throw new ModelLoadException($"{source}: {piecesName} have no byte-fallback piece <0x{missing:X2}> (nor the character itself), so text with characters outside the vocabulary cannot be encoded");
        return new TextTokenizer(spm, vocab, special, bos, eos, addBos, addEos, stripLeadingSpace: addSpacePrefix);
    }

    private static (int? Bos, int? Eos) SpecialIds(JsonElement? config, IReadOnlyDictionary<string, int> special, IReadOnlyDictionary<string, int> vocab)
    {
        int? Find(string key)
        {
            var text = TokenText(config, key);
            if (text is null) return null;
            return special.TryGetValue(text, out var id) ? id : vocab.TryGetValue(text, out var v) ? v : null;
        }
        return (Find("bos_token"), Find("eos_token"));
    }

    /// <summary>tokenizer_config.json token entries are a string or {"content": ...}.</summary>
    public static string? TokenText(JsonElement? config, string key)
    {
        if (config is not { ValueKind: JsonValueKind.Object } c || !c.TryGetProperty(key, out var v)) return null;
        return v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Object => Str(v, "content"),
            _ => null,
        };
    }

    internal static bool? ReadBool(JsonElement? config, string key) =>
        config is { ValueKind: JsonValueKind.Object } c && c.TryGetProperty(key, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? v.GetBoolean() : null;
}
