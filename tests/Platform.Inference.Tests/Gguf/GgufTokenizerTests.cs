using Platform.Inference.Gguf;
using Platform.Inference.Engine;
using Platform.Inference.Loading;
using Platform.Inference.Tokenization;

namespace Platform.Inference.Tests.Gguf;

/// <summary><see cref="GgufTokenizer"/> on hand-written tokenizer.ggml.* metadata (no tensors: the tokenizer reads none).</summary>
public sealed class GgufTokenizerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gguf-tok-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>&lt;unk&gt; &lt;s&gt; &lt;/s&gt;, the 256 byte pieces, then ▁ a b ▁a ab.</summary>
    private static (List<string> Tokens, List<float> Scores, List<int> Types) Vocabulary()
    {
        var tokens = new List<string> { "<unk>", "<s>", "</s>" };
        var types = new List<int> { 2, 3, 3 };
        tokens.AddRange(Enumerable.Range(0, 256).Select(b => $"<0x{b:X2}>"));
        types.AddRange(Enumerable.Repeat(6, 256));
        tokens.AddRange(["▁", "a", "b", "▁a", "ab"]);
        types.AddRange([1, 1, 1, 1, 1]);
        var scores = tokens.Select((_, i) => i < 259 ? 0f : -(i - 258f)).ToList();
        return (tokens, scores, types);
    }

    private GgufReader Write(Action<GgufWriter>? more = null, IReadOnlyList<string>? tokens = null, IReadOnlyList<float>? scores = null, IReadOnlyList<int>? types = null)
    {
        var v = Vocabulary();
        var w = new GgufWriter();
        w.AddString("general.architecture", "llama");
        w.AddString("tokenizer.ggml.model", "llama");
        w.AddStringArray("tokenizer.ggml.tokens", tokens ?? v.Tokens);
        if (scores is not null || tokens is null) w.AddFloat32Array("tokenizer.ggml.scores", scores ?? v.Scores);
        if (types is not null || tokens is null) w.AddInt32Array("tokenizer.ggml.token_type", types ?? v.Types);
        more?.Invoke(w);
        string path = Path.Combine(_dir, $"{Guid.NewGuid():N}.gguf");
        w.WriteTo(path);
        return GgufReader.Open(path);
    }

    [Fact]
    public void Load_LlamaVocabularyWithoutOptionalKeys_LlamaCppDefaults()
    {
        var tok = GgufTokenizer.Load(Write());

        Assert.Equal(TokenizerKind.SentencePiece, tok.Kind);
        Assert.Equal((1, 2), (tok.BosTokenId, tok.EosTokenId));
        Assert.True(tok.AddBos);
        Assert.False(tok.AddEos);
        // ▁a (score -4) beats ab (-5): "▁ab" is ▁a b; the dummy prefix is there by default.
        Assert.Equal([1, 262, 261], tok.Encode("ab", addBos: true));
        Assert.Equal("ab", tok.Decode([262, 261]));
        Assert.True(tok.IsSpecial(1));
    }

    [Fact]
    public void Load_AddSpacePrefixFalseAndAddEos_NoDummyPrefixAndEosAppended()
    {
        var tok = GgufTokenizer.Load(Write(w => w.AddBool("tokenizer.ggml.add_space_prefix", false).AddBool("tokenizer.ggml.add_eos_token", true)));

        Assert.Equal([263, 2], tok.Encode("ab", addEos: tok.AddEos));
        Assert.Equal(" a", tok.Decode([262]));
    }

    public static TheoryData<string, string> Malformed => new()
    {
        { "scores-length", "tokenizer.ggml.scores" },
        { "scores-type", "tokenizer.ggml.scores" },
        { "types-length", "tokenizer.ggml.token_type" },
        { "types-value", "tokenizer.ggml.token_type" },
        { "missing-byte", "<0x0A>" },
        { "bos-range", "tokenizer.ggml.bos_token_id" },
        { "unknown-range", "tokenizer.ggml.unknown_token_id" },
        { "add-bos-type", "tokenizer.ggml.add_bos_token" },
        { "model", "tokenizer.ggml.model" },
        { "no-tokens", "tokenizer.ggml.tokens" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Load_MalformedLlamaVocabulary_ThrowsModelLoadExceptionNamingTheKey(string defect, string named)
    {
        var v = Vocabulary();
        Func<GgufReader> file = defect switch
        {
            "scores-length" => () => Write(scores: v.Scores.Take(100).ToList(), tokens: v.Tokens, types: v.Types),
            "scores-type" => () => Write(w => w.AddInt32Array("tokenizer.ggml.scores", v.Types), tokens: v.Tokens, types: v.Types),
            "types-length" => () => Write(tokens: v.Tokens, scores: v.Scores, types: v.Types.Skip(1).ToList()),
            "types-value" => () => Write(tokens: v.Tokens, scores: v.Scores, types: v.Types.Select((t, i) => i == 260 ? 9 : t).ToList()),
            "missing-byte" => () => Write(tokens: v.Tokens.Select(t => t == "<0x0A>" ? "[newline]" : t).ToList(), scores: v.Scores, types: v.Types),
            "bos-range" => () => Write(w => w.AddUInt32("tokenizer.ggml.bos_token_id", 4000)),
            "unknown-range" => () => Write(w => w.AddInt32("tokenizer.ggml.unknown_token_id", -3)),
            "add-bos-type" => () => Write(w => w.AddString("tokenizer.ggml.add_bos_token", "yes")),
            "model" => () => WriteModel("bert"),
            "no-tokens" => () => WriteWithoutTokens(),
            _ => throw new ArgumentException(defect),
        };

        var e = Assert.Throws<ModelLoadException>(() => GgufTokenizer.Load(file()));

        Assert.Contains(named, e.Message);
    }

    private GgufReader WriteModel(string model)
    {
        string path = Path.Combine(_dir, "model.gguf");
        new GgufWriter().AddString("tokenizer.ggml.model", model).AddStringArray("tokenizer.ggml.tokens", ["a"]).WriteTo(path);
        return GgufReader.Open(path);
    }

    private GgufReader WriteWithoutTokens()
    {
        string path = Path.Combine(_dir, "no-tokens.gguf");
        new GgufWriter().AddString("tokenizer.ggml.model", "llama").WriteTo(path);
        return GgufReader.Open(path);
    }
}
