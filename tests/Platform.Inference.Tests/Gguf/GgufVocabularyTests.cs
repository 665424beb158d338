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
    public void FromHuggingFace_SentencePieceModel_LlamaVocabularyWithScoresTypesSpecialIdsAndPadding()
    {
        TinyModelFactory.Create(_dir, TinyModelFactory.TinyConfig(vocabSize: 700), TokenizerKind.SentencePiece, merges: 100);
        var proto = SentencePieceModelProto.Read(Path.Combine(_dir, "tokenizer.model"));

        var v = GgufVocabulary.FromHuggingFace(_dir, 700);

        Assert.Equal(("llama", "default"), (v.Model, v.Pre));
        Assert.Equal(700, v.Tokens.Count);
        Assert.Equal(700, v.Scores!.Count);
        Assert.Equal(proto.Pieces, v.Tokens.Take(proto.Pieces.Count));
        Assert.Equal(proto.Scores, v.Scores.Take(proto.Pieces.Count));
        Assert.Equal((int)GgufTokenType.Unknown, v.TokenTypes[0]);
        Assert.Equal((int)GgufTokenType.Control, v.TokenTypes[1]);
        Assert.Equal((int)GgufTokenType.Byte, v.TokenTypes[3 + 0x0A]);
        Assert.Equal((int)GgufTokenType.Normal, v.TokenTypes[proto.Pieces.Count - 1]);
        Assert.Equal("[PAD699]", v.Tokens[699]);
        Assert.Equal((int)GgufTokenType.Unused, v.TokenTypes[699]);
        Assert.Empty(v.Merges);
        Assert.Equal((1, 2, 0), (v.BosTokenId, v.EosTokenId, v.UnknownTokenId));
        Assert.Null(v.PaddingTokenId);
        Assert.True(v.AddBosToken);
        Assert.False(v.AddEosToken);
        Assert.True(v.AddSpacePrefix);
    }

    [Fact]
    public void FromHuggingFace_AddedTokensDecoder_ControlAndUserDefinedOverThePieces()
    {
        TinyModelFactory.Create(_dir, TinyModelFactory.TinyConfig(vocabSize: 600), TokenizerKind.SentencePiece, merges: 100);
        string configPath = Path.Combine(_dir, "tokenizer_config.json");
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config["added_tokens_decoder"] = new System.Text.Json.Nodes.JsonObject
        {
            ["590"] = new System.Text.Json.Nodes.JsonObject { ["content"] = "<|im_end|>", ["special"] = true },
            ["591"] = new System.Text.Json.Nodes.JsonObject { ["content"] = "▁tool▁", ["special"] = false },
        };
        config["add_eos_token"] = true;
        File.WriteAllText(configPath, config.ToJsonString());

        var v = GgufVocabulary.FromHuggingFace(_dir, 600);

        Assert.Equal(("<|im_end|>", (int)GgufTokenType.Control, -1000f), (v.Tokens[590], v.TokenTypes[590], v.Scores![590]));
        Assert.Equal((" tool ", (int)GgufTokenType.UserDefined), (v.Tokens[591], v.TokenTypes[591]));
        Assert.True(v.AddEosToken);
    }

    [Fact]
    public void FromHuggingFace_NoTokenizerFiles_ThrowsFileNotFound()
    {
        File.WriteAllText(Path.Combine(_dir, "config.json"), "{}");
        Assert.Throws<FileNotFoundException>(() => GgufVocabulary.FromHuggingFace(_dir, 10));
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
