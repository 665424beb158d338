using System.Text.Json;
using Platform.Inference.Gguf;
using Platform.Inference.Models;
using Platform.Inference.Tokenization;

namespace Platform.Inference.Tests.Gguf;

public sealed class GgufVocabularyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gguf-vocab-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void FromHuggingFace_ByteLevelBpe_TypesMergesSpecialIdsAndPadding()
    {
        // 3 specials + 256 bytes + at most 400 merges < 800: the top embedding rows have no token.
        TinyModelFactory.Create(_dir, TinyModelFactory.TinyConfig(vocabSize: 800), merges: 400);
        var tokenizer = TokenizerLoader.Load(_dir);

        var v = GgufVocabulary.FromHuggingFace(_dir, 800);

        Assert.Equal("gpt2", v.Model);
        Assert.Equal("gpt-2", v.Pre);
        Assert.Equal(800, v.Tokens.Count);
        Assert.Equal(800, v.TokenTypes.Count);
        Assert.Equal("<|endoftext|>", v.Tokens[0]);
        Assert.Equal((int)GgufTokenType.Control, v.TokenTypes[0]);
        Assert.Equal("Ġ", v.Tokens[3 + 0x20]);                        // byte 0x20 in GPT-2's byte alphabet
        Assert.Equal((int)GgufTokenType.Normal, v.TokenTypes[3 + 0x20]);
        int last = tokenizer.VocabSize - 1;
        Assert.Equal(tokenizer.IdToToken(last), v.Tokens[last]);
        Assert.Equal($"[PAD{799}]", v.Tokens[799]);                     // embedding rows without a token
        Assert.Equal((int)GgufTokenType.Unused, v.TokenTypes[799]);
        Assert.Equal(tokenizer.VocabSize - 3 - 256, v.Merges.Count);
        Assert.All(v.Merges, m => Assert.Equal(2, m.Split(' ').Length));
        Assert.Null(v.BosTokenId);
        Assert.Equal(0, v.EosTokenId);
        Assert.False(v.AddBosToken);
        Assert.Equal(TinyModelFactory.DemoChatTemplate, v.ChatTemplate);
    }

    [Fact]
    public void FromHuggingFace_VocabularyLargerThanModel_ThrowsInvalidData()
    {
        TinyModelFactory.Create(_dir, TinyModelFactory.TinyConfig(vocabSize: 512));
        var e = Assert.Throws<InvalidDataException>(() => GgufVocabulary.FromHuggingFace(_dir, 300));
        Assert.Contains("vocab_size 300", e.Message);
    }

    [Fact]
    public void FromHuggingFace_SentencePieceStyleBpe_ThrowsNotSupported()
    {
        File.WriteAllText(Path.Combine(_dir, "tokenizer.json"), """
            {"model":{"type":"BPE","byte_fallback":true,"vocab":{"<unk>":0,"▁a":1},"merges":[]},
             "pre_tokenizer":{"type":"Metaspace"},"decoder":{"type":"Sequence","decoders":[{"type":"ByteFallback"}]}}
            """);
        Assert.Throws<NotSupportedException>(() => GgufVocabulary.FromHuggingFace(_dir, 2));
    }

    [Theory]
    [InlineData("""{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":false}]}""", "qwen2")]
    [InlineData("""{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":false}]}""", "llama-bpe")]
    [InlineData("""{"type":"Sequence","pretokenizers":[{"type":"Digits","individual_digits":true},{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}]}""", "smollm")]
    [InlineData("""{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}""", "gpt-2")]
    public void DetectPreTokenizer_KnownDefinitions_MapToLlamaCppNames(string preTokenizer, string expected)
    {
        using var doc = JsonDocument.Parse($$"""{"pre_tokenizer":{{preTokenizer}}}""");
        Assert.Equal(expected, GgufVocabulary.DetectPreTokenizer(doc.RootElement));
    }
}
