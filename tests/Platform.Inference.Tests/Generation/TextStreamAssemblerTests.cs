using System.Text;
using Platform.Inference.Generation;
using Xunit;

namespace Platform.Inference.Tests.Generation;

public class TextStreamAssemblerTests
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public void Append_SplitThreeByteChar_HoldsBackUntilComplete()
    {
        var a = new TextStreamAssembler([]);
        var bytes = B("€");   // E2 82 AC
        Assert.Equal("", a.Append(bytes.AsSpan(0, 1)));
        Assert.Equal("", a.Append(bytes.AsSpan(1, 1)));
        Assert.Equal("€", a.Append(bytes.AsSpan(2, 1)));
    }

    [Fact]
    public void Append_StopString_NeverLeaksPartialMatch()
    {
        var a = new TextStreamAssembler(["STOP"]);
        var deltas = new[] { "Hello S", "TO", "P and more" }.Select(s => a.Append(B(s))).ToList();
        Assert.Equal(["Hello ", "", ""], deltas);
        Assert.True(a.Stopped);
        Assert.Equal("Hello ", a.Text);
    }

    [Fact]
    public void Append_PartialMatchThatBreaks_IsReleased()
    {
        var a = new TextStreamAssembler(["STOP"]);
        Assert.Equal("go ", a.Append(B("go ST")));
        Assert.Equal("STAR", a.Append(B("AR")));
        Assert.False(a.Stopped);
    }

    [Fact]
    public void Append_StopStringInsideOneToken_CutsBeforeIt()
    {
        var a = new TextStreamAssembler(["\n\n", "###"]);
        Assert.Equal("answer", a.Append(B("answer###tail")));
        Assert.True(a.Stopped);
        Assert.Equal("", a.Append(B("more")));
    }

    [Fact]
    public void Flush_IncompleteBytes_EmitsReplacementCharacter()
    {
        var a = new TextStreamAssembler([]);
        Assert.Equal("x", a.Append(new byte[] { (byte)'x', 0xE2, 0x82 }));
        Assert.Equal("\uFFFD", a.Flush());
    }

    [Fact]
    public void Append_SentencePieceLeadingSpace_IsStrippedOnce()
    {
        var a = new TextStreamAssembler([], stripLeadingSpace: true);
        Assert.Equal("Hello", a.Append(B(" Hello")));
        Assert.Equal(" world", a.Append(B(" world")));
    }
}
