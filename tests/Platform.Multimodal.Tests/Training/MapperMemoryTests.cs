using Platform.Multimodal.Training;
using Platform.Multimodal.World;
using static TorchSharp.torch;

namespace Platform.Multimodal.Tests.Training;

public sealed class MapperMemoryTests
{
    private static EncodedDialogue Dialogue(int length, int[] contextStarts, int[] imgStarts) =>
        new(new int[length], new bool[length], [], [], imgStarts, imgStarts.Select(_ => (new Scene([]), false)).ToList()) { ImgContextStarts = contextStarts };

    [Fact]
    public void Gather_WordsBeforeEachPicture_TakesAtMostContextWordsAndPadsAtTheFront()
    {
        // Row 0: words 3..9, [IMG] at 10..13; words 14..15, [IMG] at 16..19. Row 1: words 2..4, [IMG] at 5..8.
        var batch = new[] { Dialogue(20, [3, 14], [10, 16]), Dialogue(20, [2], [5]) };
        int context = 4, r = 4;
        // Every state holds its own flat index (row * T + position), so the gathered values name their source.
        using var hidden = arange(2 * 20, ScalarType.Float32).view(2, 20, 1);
        var (h, e, keep) = MapperMemory.Gather(hidden, hidden + 1000, MapperMemory.Pictures(batch), context, r);
        Assert.Equal(new long[] { 3, context + r, 1 }, h.shape);
        float[] Row(int n) => h[n].reshape(-1).data<float>().ToArray();
        bool[] Keep(int n) => keep[n].data<bool>().ToArray();
        // Capped at the last 4 words: 6..9, then 10..13.
        Assert.Equal(new float[] { 6, 7, 8, 9, 10, 11, 12, 13 }, Row(0));
        Assert.All(Keep(0), Assert.True);
        // Two words after the first picture, padded with two dropped rows.
        Assert.Equal(new float[] { 14, 15, 16, 17, 18, 19 }, Row(1)[2..]);
        Assert.Equal(new[] { false, false, true, true, true, true, true, true }, Keep(1));
        Assert.Equal(new float[] { 22, 23, 24, 25, 26, 27, 28 }, Row(2)[1..]);
        Assert.Equal(new[] { false, true, true, true, true, true, true, true }, Keep(2));
        Assert.Equal(Row(0).Select(v => v + 1000), e[0].reshape(-1).data<float>().ToArray());
        Assert.Equal(new float[] { 10, 11, 12, 13 }, MapperMemory.ImageRows(h, r)[0].reshape(-1).data<float>().ToArray());
    }

    [Fact]
    public void Pictures_LastOnly_TakesEachDialoguesLastPicture()
    {
        var batch = new[] { Dialogue(20, [3, 14], [10, 16]), Dialogue(20, [2], [5]) };
        Assert.Equal([new MapperMemory.Picture(0, 1, 14, 16), new MapperMemory.Picture(1, 0, 2, 5)], MapperMemory.Pictures(batch, lastOnly: true));
    }
}
