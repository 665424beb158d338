using Platform.Inference.Engine;
using Platform.Inference.Gguf;
using Platform.Inference.Loading;
using Platform.Inference.Models;
using Platform.Inference.Tokenization;

namespace Platform.Inference.Tests.Gguf;

/// <summary>
/// A tiny Llama with a SentencePiece tokenizer.model, exported once to a GGUF file with a "llama" vocabulary. Beyond
/// the corpus-trained pieces the model has what real SentencePiece vocabularies have: runs of spaces ("▁▁", "▁▁▁▁",
/// so equal-score pairs compete), a user-defined piece and Phi-3's &lt;|endoftext|&gt; control piece. The same folder
/// is exported a second time under a name with "phi3" in it, which makes llama.cpp strip whitespace after special tokens.
/// </summary>
public sealed class SentencePieceGgufFixture : IDisposable
{
    public const string UserDefined = "<tool>";
    private readonly string _dir = Directory.CreateTempSubdirectory("gguf-spm-").FullName;

    public SentencePieceGgufFixture()
    {
        Folder = TinyModelFactory.Create(Path.Combine(_dir, "tiny-spm"), GgufTestModels.LlamaGqa(), TokenizerKind.SentencePiece, seed: 13,
            merges: 120, chatTemplate: TestModels.MistralChatTemplate);
        string path = Path.Combine(Folder, "tokenizer.model");
        var proto = SentencePieceModelProto.Read(path);
        proto = proto with
        {
            Pieces = [.. proto.Pieces, "▁▁", "▁▁▁▁", UserDefined, "<|endoftext|>"],
            Scores = [.. proto.Scores, -0.5f, -0.6f, 0f, 0f],
            Types = [.. proto.Types, GgufTokenType.Normal, GgufTokenType.Normal, GgufTokenType.UserDefined, GgufTokenType.Control],
        };
        File.WriteAllBytes(path, proto.ToBytes());
        Gguf = Path.Combine(_dir, "tiny-spm.gguf");
        Export = HfGgufExporter.ExportFolder(Folder, Gguf);
        // general.name is the folder's name.
        string phi3 = Path.Combine(_dir, "Tiny-Phi3-SPM");
        Directory.CreateDirectory(phi3);
        foreach (var file in Directory.GetFiles(Folder)) File.Copy(file, Path.Combine(phi3, Path.GetFileName(file)));
        Phi3Gguf = Path.Combine(_dir, "tiny-phi3.gguf");
        HfGgufExporter.ExportFolder(phi3, Phi3Gguf);
    }

    public string Folder { get; }
    public string Gguf { get; }
    /// <summary>The same vocabulary in a file whose general.name contains "phi3".</summary>
    public string Phi3Gguf { get; }
    public GgufExportResult Export { get; }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}

/// <summary>GGUF "llama" (SentencePiece) vocabularies: our tokenizer and detokenizer against llama.cpp's on the same file.</summary>
public sealed class GgufSentencePieceTests(SentencePieceGgufFixture f) : IClassFixture<SentencePieceGgufFixture>
{
    /// <summary>Texts SentencePiece encodes losslessly.</summary>
    public static TheoryData<string> PlainTexts =>
    [
        "Hello world! The quick brown fox jumps over the lazy dog.",
        " leading space",
        "trailing space ",
        "multiple   spaces  and     more",
        "    ",
        "line one\nline two\n\n  indented\r\nend\n",
        "\ttabbed",
        "Café, naïve, résumé, Größe, über, façade.",
        "日本語のテキスト、中文文本，한국어 텍스트.",
        "Emoji: 😀 🎉 and unseen ones 🦙🧪 ∑∫√ ÆØÅ",
        "aaaa zyxwvut qqq 12 apples, 2024 stars",
    ];

    /// <summary>Control and user-defined tokens written in the text (a rendered chat prompt has them).</summary>
    public static TheoryData<string> TextsWithSpecialTokens =>
    [
        "<s>[INST] Hello world [/INST]",
        "answer</s><s>[INST] next",
        "call <tool> now<tool>twice " + SentencePieceGgufFixture.UserDefined,
    ];

    [Fact]
    public void Export_SentencePieceFolder_WritesLlamaVocabularyWithScores()
    {
        Assert.Equal("llama", f.Export.VocabularyModel);
        Assert.Null(f.Export.VocabularyNote);
        var md = GgufReader.Open(f.Gguf).Metadata;
        Assert.Equal("llama", md["tokenizer.ggml.model"].AsString());
        var tokens = md["tokenizer.ggml.tokens"].AsArray<string>();
        var scores = md["tokenizer.ggml.scores"].AsArray<float>();
        var types = md["tokenizer.ggml.token_type"].AsArray<int>();
        Assert.Equal(512, tokens.Length);
        Assert.Equal(512, scores.Length);
        int tool = Array.IndexOf(tokens, SentencePieceGgufFixture.UserDefined);
        Assert.Equal((int)GgufTokenType.UserDefined, types[tool]);
        Assert.Equal(-0.5f, scores[Array.IndexOf(tokens, "▁▁")]);
        Assert.True(md["tokenizer.ggml.add_space_prefix"].AsBool());
        Assert.False(md.ContainsKey("tokenizer.ggml.merges"));
    }

    [Theory]
    [MemberData(nameof(PlainTexts))]
    [MemberData(nameof(TextsWithSpecialTokens))]
    public void Encode_GgufSentencePieceVocabulary_SameIdsAsLlamaCpp(string text)
    {
        var ours = GgufTokenizer.Load(GgufReader.Open(f.Gguf)).Encode(text);

        var theirs = LlamaCppOracle.Tokenize(f.Gguf, text, addBos: false, special: true);

        Assert.Equal(theirs, ours);
        Assert.Equal(ours, TokenizerLoader.Load(f.Folder).Encode(text)); // the folder the file came from tokenizes alike
    }

    /// <summary>
    /// 300 texts drawn with a fixed seed from the corpus' characters, runs of spaces, newlines, characters outside the
    /// vocabulary and the special tokens: merge orders, byte fallback and splitting meet in many combinations.
    /// </summary>
    private static List<string> RandomTexts()
    {
        string[] parts = [.. TinyModelFactory.Corpus.EnumerateRunes().Select(r => r.ToString()).Distinct(),
            " ", "  ", "   ", "\n", "\t", "ÿ", "🦙", "\u00A0", "<s>", "</s>", SentencePieceGgufFixture.UserDefined, "aa", "the ", "ing"];
        var random = new Random(20240601);
        return Enumerable.Range(0, 300).Select(_ => string.Concat(Enumerable.Range(0, random.Next(1, 40)).Select(_ => parts[random.Next(parts.Length)]))).ToList();
    }

    [Fact]
    public void Encode_RandomTexts_SameIdsAsLlamaCpp()
    {
        var texts = RandomTexts();
        var tok = GgufTokenizer.Load(GgufReader.Open(f.Gguf));

        var theirs = LlamaCppOracle.TokenizeAll(f.Gguf, texts, addBos: false, special: true);

        for (int i = 0; i < texts.Count; i++)
            Assert.True(theirs[i].SequenceEqual(tok.Encode(texts[i])), $"text {i} {System.Text.Json.JsonSerializer.Serialize(texts[i])}: llama.cpp [{string.Join(", ", theirs[i])}], ours [{string.Join(", ", tok.Encode(texts[i]))}]");
    }

    [Fact]
    public void Decode_RandomTexts_SameTextAsLlamaCpp()
    {
        var tok = GgufTokenizer.Load(GgufReader.Open(f.Gguf));
        var ids = RandomTexts().Select(t => tok.Encode(t)).ToList();

        var theirs = LlamaCppOracle.DetokenizeAll(f.Gguf, ids);

        for (int i = 0; i < ids.Count; i++) Assert.Equal(theirs[i], tok.Decode(ids[i]));
    }

    [Theory]
    [InlineData("<|endoftext|>\nhello</s>\n  world<tool> \t x<s> y<unk> z")]
    [InlineData("<s><|endoftext|>  A cat sat.\n</s>\n")]
    public void Encode_Phi3NamedFile_WhitespaceAfterSpecialTokensDroppedAsInLlamaCpp(string text)
    {
        var phi3 = GgufTokenizer.Load(GgufReader.Open(f.Phi3Gguf)).Encode(text);
        var other = GgufTokenizer.Load(GgufReader.Open(f.Gguf)).Encode(text);

        Assert.Equal(LlamaCppOracle.Tokenize(f.Phi3Gguf, text, addBos: false, special: true), phi3);
        Assert.NotEqual(other, phi3);
        Assert.Equal(LlamaCppOracle.Tokenize(f.Gguf, text, addBos: false, special: true), other);
    }

    [Fact]
    public void Encode_RunsOfSpaces_UseTheSpacePiecesLeftmostFirst()
    {
        var tok = GgufTokenizer.Load(GgufReader.Open(f.Gguf));
        int two = tok.TokenToId("▁▁")!.Value, four = tok.TokenToId("▁▁▁▁")!.Value;
        // Dummy prefix + 5 spaces = 6 escaped spaces: pairs of ▁ merge first (-0.5, leftmost first), then the
        // leftmost two ▁▁ into ▁▁▁▁ (-0.6).
        var ids = tok.Encode("     ");
        Assert.Equal([four, two], ids);
        Assert.Equal(LlamaCppOracle.Tokenize(f.Gguf, "     ", addBos: false, special: true), ids);
    }

    [Theory]
    [MemberData(nameof(PlainTexts))]
    public void Decode_GgufSentencePieceVocabulary_RoundTripsAndEqualsLlamaCpp(string text)
    {
        var tok = GgufTokenizer.Load(GgufReader.Open(f.Gguf));
        var ids = tok.Encode(text);

        Assert.Equal(text, tok.Decode(ids));
        Assert.Equal(LlamaCppOracle.Detokenize(f.Gguf, ids), tok.Decode(ids));
    }

    [Theory]
    [MemberData(nameof(TextsWithSpecialTokens))]
    public void Decode_SpecialTokens_SameTextAsLlamaCpp(string text)
    {
        var tok = GgufTokenizer.Load(GgufReader.Open(f.Gguf));
        var ids = tok.Encode(text);

        Assert.Equal(LlamaCppOracle.Detokenize(f.Gguf, ids), tok.Decode(ids));
    }

    [Fact]
    public async Task GgufLoad_SentencePieceLlamaChat_PromptAndGreedyTokensMatchLlamaCpp()
    {
        ChatMessage[] messages = [new("user", "Hello world! What is in this image?  A cat, 日本語 😀\nThanks.")];
        List<int> ours = [];
        int[] prompt;
        await using (var engine = TextEngine.Load("spm", f.Gguf, new EngineOptions { Threads = 1 }))
        {
            var loaded = engine.Model;
            Assert.Equal(TokenizerKind.SentencePiece, loaded.Tokenizer.Kind);
            Assert.Equal(2, loaded.EosTokenIds.Single());
            string rendered = loaded.ChatTemplate.Render(messages);
            Assert.StartsWith("<s>[INST] Hello", rendered);
            prompt = [.. loaded.Tokenizer.Encode(rendered)];
            Assert.Equal(LlamaCppOracle.Tokenize(f.Gguf, rendered, addBos: false, special: true), prompt);
            // A raw prompt gets BOS as the vocabulary asks (tokenizer.ggml.add_bos_token), as llama_tokenize adds it.
            Assert.Equal(LlamaCppOracle.Tokenize(f.Gguf, "The weather is nice", addBos: true, special: false),
                loaded.Tokenizer.Encode("The weather is nice", addBos: loaded.Tokenizer.AddBos));

            var request = new GenerationRequest { Messages = messages, MaxNewTokens = 16, IgnoreEos = true, StopTokenIds = [], Sampling = SamplingOptions.Greedy };
            await foreach (var u in engine.GenerateAsync(request, CancellationToken.None))
                ours.AddRange(u.TokenIds);
        }

        Assert.Equal(16, ours.Count);
        Assert.Equal(LlamaCppOracle.Greedy(f.Gguf, prompt, 16), ours);
    }
}
