using System.Text;
using Platform.Inference.Generation;
using Platform.Inference.Loading;
using Platform.Inference.Tokenization;
using Xunit;

namespace Platform.Inference.Tests.Tokenization;

public class TextTokenizerTests
{
    public static TheoryData<string> Texts => new()
    {
        "Hello world! The quick brown fox jumps over the lazy dog.",
        "Café, naïve, Größe — 日本語のテキスト 😀🎉 mixed 123 numbers",
        "  leading and trailing spaces \n\t newlines ",
        "unseen words: zyxwvut qqq ÆØÅ ∑∫√",
    };

    [Theory]
    [MemberData(nameof(Texts))]
    public void EncodeDecode_ByteLevelBpe_RoundTrips(string text)
    {
        using var m = ModelLoader.Load(TestModels.Llama);
        var ids = m.Tokenizer.Encode(text);
        Assert.True(ids.Count < Encoding.UTF8.GetByteCount(text) || text.Length < 5, "merges should shorten the sequence");
        Assert.Equal(text, m.Tokenizer.Decode(ids));
    }

    [Theory]
    [MemberData(nameof(Texts))]
    public void EncodeDecode_SentencePiece_RoundTrips(string text)
    {
        using var m = ModelLoader.Load(TestModels.SentencePiece);
        var ids = m.Tokenizer.Encode(text);
        Assert.Equal(text, m.Tokenizer.Decode(ids));
    }

    [Fact]
    public void Encode_SpecialTokensInText_MapToTheirIds()
    {
        using var m = ModelLoader.Load(TestModels.Llama);
        var ids = m.Tokenizer.Encode("<|im_start|>user\nhi<|im_end|>");
        Assert.Equal(m.Tokenizer.TokenToId("<|im_start|>"), ids[0]);
        Assert.Equal(m.Tokenizer.TokenToId("<|im_end|>"), ids[^1]);
        Assert.True(m.Tokenizer.IsSpecial(ids[0]));
    }

    [Fact]
    public void Encode_SentencePieceControlTokensInChatText_MapToIds()
    {
        using var m = ModelLoader.Load(TestModels.SentencePiece);
        var text = m.ChatTemplate.Render([new Platform.Inference.Engine.ChatMessage("user", "Hello world")]);
        Assert.StartsWith("<s>[INST]", text);
        var ids = m.Tokenizer.Encode(text);
        Assert.Equal(1, ids[0]);
        Assert.Equal(1, ids.Count(i => i == 1));
        // Like HF's legacy Llama tokenizer, the text after a control token gets SentencePiece's dummy-prefix space.
        Assert.Equal("[INST] Hello world [/INST]", m.Tokenizer.Decode(ids, skipSpecial: true).Trim());
    }

    [Fact]
    public void TokenBytes_MultiByteCharSplitAcrossTokens_StreamsWholeCharacters()
    {
        using var m = ModelLoader.Load(TestModels.Llama);
        var tok = m.Tokenizer;
        // "😀" is 4 bytes; feed it as byte-level tokens one byte each: every token alone is invalid UTF-8.
        var emoji = Encoding.UTF8.GetBytes("a😀b");
        var ids = emoji.Select(b => tok.TokenToId(ByteLevel.Encode(b).ToString())!.Value).ToList();
        var assembler = new TextStreamAssembler([]);
        var deltas = ids.Select(id => assembler.Append(tok.TokenBytes(id))).ToList();
        Assert.Equal(["a", "", "", "", "😀", "b"], deltas);
        Assert.DoesNotContain(deltas, d => d.Contains('\uFFFD'));
    }

    [Fact]
    public void Encode_TextWithMultiByteChars_HasTokensEndingMidCharacter()
    {
        // The trained BPE merges bytes of CJK characters, so some tokens are incomplete UTF-8 on their own;
        // the streaming assembler still yields the exact text.
        using var m = ModelLoader.Load(TestModels.Llama);
        var text = "漢字と日本語のテキスト、中文文本";
        var ids = m.Tokenizer.Encode(text);
        Assert.Contains(ids, id => !IsValidUtf8(m.Tokenizer.TokenBytes(id).ToArray()));
        var assembler = new TextStreamAssembler([]);
        var streamed = string.Concat(ids.Select(id => assembler.Append(m.Tokenizer.TokenBytes(id)))) + assembler.Flush();
        Assert.Equal(text, streamed);
    }

    private static bool IsValidUtf8(byte[] bytes)
    {
        try { new UTF8Encoding(false, true).GetString(bytes); return true; }
        catch (DecoderFallbackException) { return false; }
    }
}
