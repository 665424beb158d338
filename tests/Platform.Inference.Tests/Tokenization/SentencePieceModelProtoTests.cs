using Platform.Inference.Gguf;
using Platform.Inference.Models;
using Platform.Inference.Tokenization;

namespace Platform.Inference.Tests.Tokenization;

public sealed class SentencePieceModelProtoTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("spm-proto-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Parse_WrittenModel_SameFields()
    {
        var proto = new SentencePieceModelProto(["<unk>", "<s>", "▁a", "<0x00>"], [0, 0, -1.5f, 0],
            [GgufTokenType.Unknown, GgufTokenType.Control, GgufTokenType.Normal, GgufTokenType.Byte],
            ByteFallback: true, UnknownId: 0, BosId: 1, EosId: -1, PadId: 3, AddDummyPrefix: false, RemoveExtraWhitespaces: false);

        var read = SentencePieceModelProto.Parse(proto.ToBytes(), "test");

        Assert.Equal(proto.Pieces, read.Pieces);
        Assert.Equal(proto.Scores, read.Scores);
        Assert.Equal(proto.Types, read.Types);
        Assert.Equal(proto with { Pieces = read.Pieces, Scores = read.Scores, Types = read.Types }, read);
    }

    [Fact]
    public void Read_TinyModelFactoryModel_BpeWithByteFallbackAndControlPieces()
    {
        string path = Path.Combine(_dir, "tokenizer.model");
        int count = TinyModelFactory.WriteSentencePieceModel(path, mergeCount: 50);

        var proto = SentencePieceModelProto.Read(path);

        Assert.Equal(count, proto.Pieces.Count);
        Assert.Equal(SentencePieceModelProto.Bpe, proto.ModelType);
        Assert.True(proto.ByteFallback);
        Assert.Equal((1, 2, -1), (proto.BosId, proto.EosId, proto.PadId));
        Assert.Equal(GgufTokenType.Control, proto.Types[1]);
        Assert.Equal("<0x41>", proto.Pieces[3 + 0x41]);
        Assert.Equal(GgufTokenType.Byte, proto.Types[3 + 0x41]);
    }

    [Theory]
    [InlineData(new byte[] { 0x0A, 0x05, 0x0A })]          // a piece whose length runs past the end
    [InlineData(new byte[] { 0x0B })]                       // wire type 3 (groups) is not used by the proto
    [InlineData(new byte[] { 0x10, 0x01 })]                 // no pieces at all
    public void Parse_NotAModel_ThrowsInvalidDataNamingTheSource(byte[] data)
    {
        var e = Assert.Throws<InvalidDataException>(() => SentencePieceModelProto.Parse(data, "some/tokenizer.model"));
        Assert.Contains("some/tokenizer.model", e.Message);
    }
}
