using Platform.Inference.Engine;
using Platform.Inference.Models;
using Platform.Inference.Tokenization;

namespace Platform.Inference.Tests.Tokenization;

/// <summary>tokenizer.model files the SentencePiece encoder does not implement are refused, naming the field.</summary>
public sealed class TokenizerLoaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tok-loader-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string ModelPath()
    {
        string path = Path.Combine(_dir, "tokenizer.model");
        TinyModelFactory.WriteSentencePieceModel(path, mergeCount: 20);
        return path;
    }

    [Fact]
    public void Load_UnigramSentencePieceModel_ThrowsModelLoadExceptionNamingModelType()
    {
        string path = ModelPath();
        File.WriteAllBytes(path, (SentencePieceModelProto.Read(path) with { ModelType = SentencePieceModelProto.Unigram }).ToBytes());

        var e = Assert.Throws<ModelLoadException>(() => TokenizerLoader.Load(_dir));

        Assert.Contains("model_type", e.Message);
    }

    [Fact]
    public void Load_PrecompiledNormalizationRules_ThrowsModelLoadExceptionNamingTheField()
    {
        string path = ModelPath();
        // A second normalizer_spec (field 3) with precompiled_charsmap (field 2) = 3 bytes: protobuf merges it into the first.
        File.WriteAllBytes(path, [.. File.ReadAllBytes(path), 0x1A, 0x05, 0x12, 0x03, 0x01, 0x02, 0x03]);

        var e = Assert.Throws<ModelLoadException>(() => TokenizerLoader.Load(_dir));

        Assert.Contains("precompiled_charsmap", e.Message);
    }

    [Fact]
    public void Load_AddedTokenWithRstrip_WhitespaceAfterItIsDropped()
    {
        ModelPath();
        var plain = TokenizerLoader.Load(_dir);
        File.WriteAllText(Path.Combine(_dir, "tokenizer_config.json"),
            """{"added_tokens_decoder": {"2": {"content": "</s>", "special": true, "rstrip": true}}}""");

        var stripping = TokenizerLoader.Load(_dir);

        Assert.Equal(stripping.Encode("a</s>b"), stripping.Encode("a</s> \n\t b"));
        Assert.NotEqual(plain.Encode("a</s>b"), plain.Encode("a</s> \n\t b"));
    }

    [Fact]
    public void Load_TruncatedModel_ThrowsModelLoadExceptionNamingTheFile()
    {
        string path = ModelPath();
        File.WriteAllBytes(path, File.ReadAllBytes(path)[..^3]);

        var e = Assert.Throws<ModelLoadException>(() => TokenizerLoader.Load(_dir));

        Assert.Contains("tokenizer.model", e.Message);
    }
}
