using System.Text.Json;
using Platform.Inference.Tokenization;

namespace Platform.Inference.Gguf;

/// <summary>
/// The tokenizer.ggml.* metadata for a byte-level BPE ("gpt2" type) vocabulary, built from a Hugging Face
/// tokenizer.json, or a SentencePiece ("llama" type) one from a tokenizer.model (+ tokenizer_config.json,
/// config.json), following what llama.cpp's convert_hf_to_gguf.py writes for such models (_set_vocab_gpt2 /
/// get_vocab_base, _set_vocab_sentencepiece, and gguf-py's SpecialVocab), so an exported file can be run with text
/// in llama.cpp, not only with token ids.
/// </summary>
public sealed record GgufVocabulary(
    string Model,
    string Pre,
    IReadOnlyList<string> Tokens,
    IReadOnlyList<int> TokenTypes,
    IReadOnlyList<string> Merges,
    int? BosTokenId,
    int? EosTokenId,
    int? PaddingTokenId,
    int? UnknownTokenId,
    bool AddBosToken,
    string? ChatTemplate)
{
    /// <summary>SentencePiece ("llama"): the merge priority of each token (tokenizer.ggml.scores).</summary>
    public IReadOnlyList<float>? Scores { get; init; }
    public bool AddEosToken { get; init; }
    /// <summary>SentencePiece: the dummy-prefix space (tokenizer.ggml.add_space_prefix, the model's add_dummy_prefix).</summary>
    public bool? AddSpacePrefix { get; init; }

    /// <summary>Writes the tokenizer.ggml.* (and tokenizer.chat_template) keys.</summary>
    public void WriteTo(GgufWriter writer)
    {
        writer.AddString("tokenizer.ggml.model", Model);
        writer.AddString("tokenizer.ggml.pre", Pre);
        writer.AddStringArray("tokenizer.ggml.tokens", Tokens);
        if (Scores is not null) writer.AddFloat32Array("tokenizer.ggml.scores", Scores);
        writer.AddInt32Array("tokenizer.ggml.token_type", TokenTypes);
        if (Model == "gpt2") writer.AddStringArray("tokenizer.ggml.merges", Merges);
        if (BosTokenId is { } bos) writer.AddUInt32("tokenizer.ggml.bos_token_id", (uint)bos);
        if (EosTokenId is { } eos) writer.AddUInt32("tokenizer.ggml.eos_token_id", (uint)eos);
        if (PaddingTokenId is { } pad) writer.AddUInt32("tokenizer.ggml.padding_token_id", (uint)pad);
        if (UnknownTokenId is { } unk) writer.AddUInt32("tokenizer.ggml.unknown_token_id", (uint)unk);
        writer.AddBool("tokenizer.ggml.add_bos_token", AddBosToken);
        writer.AddBool("tokenizer.ggml.add_eos_token", AddEosToken);
        if (AddSpacePrefix is { } space) writer.AddBool("tokenizer.ggml.add_space_prefix", space);
        if (!string.IsNullOrEmpty(ChatTemplate)) writer.AddString("tokenizer.chat_template", ChatTemplate);
    }

    /// <summary>
    /// Reads <c>tokenizer.json</c> (byte-level BPE) or <c>tokenizer.model</c> (SentencePiece BPE) in
    /// <paramref name="modelFolder"/> and pads the vocabulary to <paramref name="vocabSize"/> (the embedding's row
    /// count, which llama.cpp requires to equal the token count). Throws <see cref="NotSupportedException"/> for
    /// other tokenizers (the caller may then fall back to a vocabulary-less file), <see cref="FileNotFoundException"/>
    /// when there is neither file and <see cref="InvalidDataException"/> for malformed files.
    /// </summary>
    public static GgufVocabulary FromHuggingFace(string modelFolder, int vocabSize)
    {
        string tokPath = Path.Combine(modelFolder, "tokenizer.json"), spPath = Path.Combine(modelFolder, "tokenizer.model");
        // The folder's own tokenizer as TokenizerLoader picks it: a byte-level BPE tokenizer.json, else tokenizer.model.
        if (!File.Exists(tokPath))
            return File.Exists(spPath) ? FromSentencePiece(modelFolder, vocabSize)
                : throw new FileNotFoundException($"No tokenizer.json or tokenizer.model in {modelFolder}.", tokPath);
        using var tokDoc = ParseJson(tokPath);
        var root = tokDoc.RootElement;
        if (!UsesByteLevel(root) && File.Exists(spPath)) return FromSentencePiece(modelFolder, vocabSize);
        if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{tokPath}: no \"model\" object.");
        string modelType = model.TryGetProperty("type", out var mt) ? mt.GetString() ?? "" : "";
        if (modelType != "BPE")
            throw new NotSupportedException($"{tokPath}: tokenizer model type '{modelType}' is not BPE; only byte-level BPE vocabularies are exported.");
        if (!UsesByteLevel(root))
            throw new NotSupportedException($"{tokPath}: BPE without a ByteLevel pre-tokenizer/decoder (SentencePiece-style byte fallback) is not exported as a gpt2 vocabulary.");
        if (!model.TryGetProperty("vocab", out var vocabEl) || vocabEl.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{tokPath}: model.vocab is missing.");

        var byId = new Dictionary<int, string>();
        var byText = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var p in vocabEl.EnumerateObject())
        {
            int id = p.Value.GetInt32();
            byId[id] = p.Name;
            byText[p.Name] = id;
        }
        var added = new Dictionary<int, bool>(); // id -> special
        if (root.TryGetProperty("added_tokens", out var addedEl) && addedEl.ValueKind == JsonValueKind.Array)
        {
            foreach (var t in addedEl.EnumerateArray())
            {
                int id = t.GetProperty("id").GetInt32();
                string content = t.GetProperty("content").GetString() ?? "";
                byId[id] = content;
                byText[content] = id;
                added[id] = t.TryGetProperty("special", out var sp) && sp.ValueKind == JsonValueKind.True;
            }
        }
        int maxId = byId.Count == 0 ? -1 : byId.Keys.Max();
        if (maxId >= vocabSize)
            throw new InvalidDataException($"{tokPath}: token id {maxId} does not fit the model's vocab_size {vocabSize}.");

        var tokens = new string[vocabSize];
        var types = new int[vocabSize];
        for (int i = 0; i < vocabSize; i++)
        {
            if (!byId.TryGetValue(i, out var text))
            {
                // convert_hf_to_gguf.py fills holes (embedding rows without a token) the same way.
                tokens[i] = $"[PAD{i}]";
                types[i] = (int)GgufTokenType.Unused;
                continue;
            }
            tokens[i] = text;
            if (added.TryGetValue(i, out bool special))
                types[i] = (int)(special ? GgufTokenType.Control : GgufTokenType.UserDefined);
            else
                // llama.cpp decodes Normal tokens through the byte-level alphabet and throws on any other
                // character, so a vocabulary entry outside it is stored verbatim as user-defined instead.
                types[i] = (int)(IsByteLevelText(text) ? GgufTokenType.Normal : GgufTokenType.UserDefined);
        }

        var merges = new List<string>();
        if (model.TryGetProperty("merges", out var mergesEl) && mergesEl.ValueKind == JsonValueKind.Array)
        {
            foreach (var m in mergesEl.EnumerateArray())
            {
                // Older tokenizers store "a b", newer ones ["a", "b"]; GGUF stores "a b".
                merges.Add(m.ValueKind switch
                {
                    JsonValueKind.String => m.GetString()!,
                    JsonValueKind.Array when m.GetArrayLength() == 2 => $"{m[0].GetString()} {m[1].GetString()}",
                    _ => throw new InvalidDataException($"{tokPath}: a merge is neither \"a b\" nor [\"a\", \"b\"]."),
                });
            }
        }

        // Special tokens: tokenizer_config.json first, config.json as the fallback (gguf-py SpecialVocab's order).
        using var tokConfig = OptionalJson(Path.Combine(modelFolder, "tokenizer_config.json"));
        using var config = OptionalJson(Path.Combine(modelFolder, "config.json"));
        int? Special(string name) =>
            LookupToken(tokConfig?.RootElement, name + "_token", byText) ?? IdFromConfig(config?.RootElement, name + "_token_id", vocabSize);

        bool addBos = TokenizerLoader.ReadBool(tokConfig?.RootElement, "add_bos_token") ?? false;
        string? template = ReadChatTemplate(modelFolder, tokConfig?.RootElement);

        return new GgufVocabulary("gpt2", DetectPreTokenizer(root), tokens, types, merges,
            Special("bos"), Special("eos"), Special("pad"), Special("unk"), addBos, template)
        { AddEosToken = TokenizerLoader.ReadBool(tokConfig?.RootElement, "add_eos_token") ?? false };
    }

    /// <summary>
    /// A SentencePiece tokenizer.model as a "llama" vocabulary, as convert_hf_to_gguf.py's _create_vocab_sentencepiece
    /// writes it: the pieces with their scores and types by id, tokenizer_config.json's added_tokens_decoder entries
    /// over them (special: Control, otherwise UserDefined with U+2581 written as a space; score -1000), embedding rows
    /// without a piece as "[PAD{id}]" Unused (score -1000), pre "default". Beyond the converter, user-defined pieces of
    /// the model keep their type (it writes them Normal) and add_space_prefix states the model's add_dummy_prefix.
    /// </summary>
    private static GgufVocabulary FromSentencePiece(string modelFolder, int vocabSize)
    {
        string spPath = Path.Combine(modelFolder, "tokenizer.model");
        var proto = SentencePieceModelProto.Read(spPath);
        if (proto.ModelType != SentencePieceModelProto.Bpe)
            throw new NotSupportedException($"{spPath}: a SentencePiece model of type {proto.ModelType} is not BPE ({SentencePieceModelProto.Bpe}); llama.cpp's \"llama\" vocabulary is BPE.");
        if (proto.Pieces.Count > vocabSize)
            throw new InvalidDataException($"{spPath}: {proto.Pieces.Count} pieces do not fit the model's vocab_size {vocabSize}.");
        var tokens = new string[vocabSize];
        var scores = new float[vocabSize];
        var types = new int[vocabSize];
        for (int i = 0; i < vocabSize; i++)
        {
            bool piece = i < proto.Pieces.Count;
            tokens[i] = piece ? proto.Pieces[i] : $"[PAD{i}]";
            scores[i] = piece ? proto.Scores[i] : -1000f;
            types[i] = (int)(piece ? proto.Types[i] : GgufTokenType.Unused);
        }

        using var tokConfig = OptionalJson(Path.Combine(modelFolder, "tokenizer_config.json"));
        using var config = OptionalJson(Path.Combine(modelFolder, "config.json"));
        if (tokConfig?.RootElement is { ValueKind: JsonValueKind.Object } tc && tc.TryGetProperty("added_tokens_decoder", out var added) && added.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in added.EnumerateObject())
            {
                if (!int.TryParse(p.Name, out int id) || id < 0 || id >= vocabSize) continue;
                string content = p.Value.TryGetProperty("content", out var c) ? c.GetString() ?? "" : "";
                bool special = p.Value.TryGetProperty("special", out var sp) && sp.ValueKind == JsonValueKind.True;
                tokens[id] = special ? content : content.Replace('\u2581', ' ');
                types[id] = (int)(special ? GgufTokenType.Control : GgufTokenType.UserDefined);
                scores[id] = -1000f;
            }
        }
        var byText = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < vocabSize; i++) byText[tokens[i]] = i;
        int? Special(string name, int protoId) =>
            LookupToken(tokConfig?.RootElement, name + "_token", byText) ?? IdFromConfig(config?.RootElement, name + "_token_id", vocabSize)
            ?? (protoId >= 0 && protoId < vocabSize ? protoId : null);

        return new GgufVocabulary("llama", "default", tokens, types, [],
            Special("bos", proto.BosId), Special("eos", proto.EosId), Special("pad", proto.PadId), Special("unk", proto.UnknownId),
            TokenizerLoader.ReadBool(tokConfig?.RootElement, "add_bos_token") ?? true, ReadChatTemplate(modelFolder, tokConfig?.RootElement))
        {
            Scores = scores,
            AddEosToken = TokenizerLoader.ReadBool(tokConfig?.RootElement, "add_eos_token") ?? false,
            AddSpacePrefix = proto.AddDummyPrefix,
        };
    }

    /// <summary>
    /// llama.cpp selects its pre-tokenizer regex by name (tokenizer.ggml.pre). convert_hf_to_gguf.py finds the
    /// name by hashing the tokenization of a test text; we read the pre_tokenizer definition instead and map the
    /// patterns llama.cpp knows. Anything else gets "default" (GPT-2's regex), which only affects text input.
    /// </summary>
    public static string DetectPreTokenizer(JsonElement root)
    {
        if (!root.TryGetProperty("pre_tokenizer", out var pre) || pre.ValueKind != JsonValueKind.Object) return "default";
        var parts = new List<JsonElement>();
        string type = pre.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "";
        if (type == "Sequence" && pre.TryGetProperty("pretokenizers", out var seq)) parts.AddRange(seq.EnumerateArray());
        else parts.Add(pre);

        foreach (var p in parts)
        {
            string pt = p.TryGetProperty("type", out var x) ? x.GetString() ?? "" : "";
            if (pt == "Split" && p.TryGetProperty("pattern", out var pat) && pat.TryGetProperty("Regex", out var re))
            {
                string regex = re.GetString() ?? "";
                if (regex.Contains(@"\p{N}{1,3}", StringComparison.Ordinal)) return "llama-bpe";
                if (regex.Contains(@"[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|", StringComparison.Ordinal)) return "qwen2";
                return "default";
            }
            if (pt == "Digits" && p.TryGetProperty("individual_digits", out var d) && d.ValueKind == JsonValueKind.True)
                return "smollm";
        }
        return parts.Any(p => p.TryGetProperty("type", out var x) && x.GetString() == "ByteLevel") ? "gpt-2" : "default";
    }

    private static bool UsesByteLevel(JsonElement root)
    {
        static bool Has(JsonElement el)
        {
            if (el.ValueKind != JsonValueKind.Object) return false;
            if (el.TryGetProperty("type", out var t) && t.GetString() == "ByteLevel") return true;
            foreach (var name in new[] { "pretokenizers", "decoders" })
                if (el.TryGetProperty(name, out var arr) && arr.ValueKind == JsonValueKind.Array && arr.EnumerateArray().Any(Has))
                    return true;
            return false;
        }
        return (root.TryGetProperty("pre_tokenizer", out var p) && Has(p)) || (root.TryGetProperty("decoder", out var d) && Has(d));
    }

    /// <summary>True when every character is one of GPT-2's 256 byte-level symbols (bytes_to_unicode).</summary>
    internal static bool IsByteLevelText(string text)
    {
        foreach (var c in text)
        {
            bool printable = c is >= '!' and <= '~' or >= '\u00A1' and <= '\u00AC' or >= '\u00AE' and <= '\u00FF';
            bool remapped = c is >= '\u0100' and <= '\u0143';
            if (!printable && !remapped) return false;
        }
        return text.Length > 0;
    }

    private static int? LookupToken(JsonElement? cfg, string key, Dictionary<string, int> byText)
    {
        if (cfg is not { } c || !c.TryGetProperty(key, out var v)) return null;
        string? content = v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Object when v.TryGetProperty("content", out var ct) => ct.GetString(),
            _ => null,
        };
        return content is not null && byText.TryGetValue(content, out int id) ? id : null;
    }

    private static int? IdFromConfig(JsonElement? cfg, string key, int vocabSize)
    {
        if (cfg is not { } c || !c.TryGetProperty(key, out var v)) return null;
        var el = v.ValueKind == JsonValueKind.Array && v.GetArrayLength() > 0 ? v[0] : v;
        return el.ValueKind == JsonValueKind.Number && el.TryGetInt32(out int id) && id >= 0 && id < vocabSize ? id : null;
    }

    private static string? ReadChatTemplate(string folder, JsonElement? tokConfig)
    {
        string jinja = Path.Combine(folder, "chat_template.jinja");
        if (File.Exists(jinja)) return File.ReadAllText(jinja);
        if (tokConfig is not { } c || !c.TryGetProperty("chat_template", out var t)) return null;
        if (t.ValueKind == JsonValueKind.String) return t.GetString();
        if (t.ValueKind == JsonValueKind.Array)
            foreach (var e in t.EnumerateArray())
                if (e.TryGetProperty("name", out var n) && n.GetString() == "default" && e.TryGetProperty("template", out var tt))
                    return tt.GetString();
        return null;
    }

    private static JsonDocument ParseJson(string path)
    {
        try { return JsonDocument.Parse(File.ReadAllBytes(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: invalid JSON ({e.Message}).", e); }
    }

    private static JsonDocument? OptionalJson(string path) => File.Exists(path) ? ParseJson(path) : null;
}
