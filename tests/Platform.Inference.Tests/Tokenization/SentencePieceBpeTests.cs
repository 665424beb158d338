using Platform.Inference.Tokenization;

namespace Platform.Inference.Tests.Tokenization;

public class SentencePieceBpeTests
{
    // ids: 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>, then the pieces below.
    private static readonly (string Piece, float Score)[] Extra = [("▁", -1), ("a", -2), ("b", -3), ("aa", -4), ("▁b", -5), ("<t>", 0)];
    private const int Space = 259, A = 260, B = 261, AA = 262, SpaceB = 263, Tool = 264;

    private static SentencePieceBpe Tokenizer(bool byteFallback = true, bool addSpacePrefix = true, bool removeExtraWhitespaces = false)
    {
        var pieces = new List<string> { "<unk>", "<s>", "</s>" };
        pieces.AddRange(Enumerable.Range(0, 256).Select(b => $"<0x{b:X2}>"));
        pieces.AddRange(Extra.Select(e => e.Piece));
        var scores = new float[pieces.Count];
        for (int i = 0; i < Extra.Length; i++) scores[259 + i] = Extra[i].Score;
        var special = new Dictionary<string, int> { ["<unk>"] = 0, ["<s>"] = 1, ["</s>"] = 2, ["<t>"] = Tool };
        return new SentencePieceBpe(pieces, scores, special, byteFallback, unknownId: 0, addSpacePrefix, removeExtraWhitespaces);
    }

    [Fact]
    public void Encode_EqualScoresAtSeveralPositions_MergesLeftmostPairFirst()
    {
        // "▁aaa": the pairs (a,a) at 1 and at 2 have the same score; SentencePiece and llama.cpp take the left one.
        Assert.Equal([Space, AA, A], Tokenizer().Encode("aaa"));
        Assert.Equal([Space, AA, AA, A], Tokenizer().Encode("aaaaa"));
    }

    [Fact]
    public void Encode_HigherScoreFirst_MergesItBeforeLowerOnes()
    {
        // "▁b" (-5) loses to nothing here, "aa" (-4) is merged first and "▁b" afterwards: "▁b▁aa".
        Assert.Equal([SpaceB, Space, AA], Tokenizer().Encode("b aa"));
    }

    [Fact]
    public void Encode_CharacterOutsideVocabulary_FallsBackToItsUtf8BytePieces()
    {
        Assert.Equal([Space, 3 + 0xC3, 3 + 0xA9, A], Tokenizer().Encode("éa"));
        Assert.Equal([Space, 3 + 0x0A], Tokenizer().Encode("\n"));
    }

    [Fact]
    public void Encode_SpecialTokensInText_SplitOutAndNextFragmentGetsDummyPrefix()
    {
        Assert.Equal([1, Space, A, 2, SpaceB, Tool, SpaceB], Tokenizer().Encode("<s>a</s>b<t>b"));
    }

    [Fact]
    public void Encode_NoSpacePrefix_NoLeadingEscapedSpace()
    {
        Assert.Equal([AA], Tokenizer(addSpacePrefix: false).Encode("aa"));
    }

    [Fact]
    public void Encode_NoByteFallback_RunOfUnknownCharactersIsOneUnknownId()
    {
        Assert.Equal([Space, 0, A, 0], Tokenizer(byteFallback: false).Encode("éèaç"));
    }

    [Fact]
    public void Encode_RemoveExtraWhitespaces_TrimsAndCollapsesSpaces()
    {
        Assert.Equal([SpaceB, SpaceB], Tokenizer(removeExtraWhitespaces: true).Encode("  b    b "));
        Assert.Equal([Space, Space, SpaceB], Tokenizer().Encode("  b"));
    }

    [Fact]
    public void FirstByteWithoutPiece_AllBytePieces_Null() => Assert.Null(Tokenizer().FirstByteWithoutPiece);
}
