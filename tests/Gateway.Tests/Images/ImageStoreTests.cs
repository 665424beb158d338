using Gateway.Images;
using Microsoft.Extensions.Options;

namespace Gateway.Tests.Images;

public class ImageStoreTests
{
    private static ImageStore Store(long maxBytes, int maxImages = 1000) =>
        new(Options.Create(new ImageServingOptions { MaxStoreBytes = maxBytes, MaxStoredImages = maxImages }));

    [Fact]
    public void Add_OverByteBound_EvictsLeastRecentlyUsed()
    {
        var store = Store(3000);
        var a = store.Add(new byte[1000]);
        var b = store.Add(new byte[1000]);
        var c = store.Add(new byte[1000]);
        Assert.NotNull(store.Get(a)); // a is now the most recently used; b the least
        var d = store.Add(new byte[1000]);
        Assert.Null(store.Get(b));
        Assert.NotNull(store.Get(a));
        Assert.NotNull(store.Get(c));
        Assert.NotNull(store.Get(d));
        Assert.Equal(3000, store.Bytes);
    }

    [Fact]
    public void Add_OverCountBound_EvictsOldest()
    {
        var store = Store(1 << 20, maxImages: 2);
        var a = store.Add([1]);
        store.Add([2]);
        store.Add([3]);
        Assert.Null(store.Get(a));
        Assert.Equal(2, store.Count);
    }

    [Fact]
    public void Add_ImageLargerThanStore_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => Store(2000).Add(new byte[2001]));
        Assert.Contains("MaxStoreBytes", ex.Message);
    }

    [Fact]
    public void Get_UnknownId_ReturnsNull() => Assert.Null(Store(2000).Get("img-missing"));

    [Theory]
    [InlineData("a large red circle at the middle center", "draw a large red circle at the middle center.")]
    [InlineData("Paint a small blue square at the top left.", "paint a small blue square at the top left.")]
    [InlineData("  A RED TRIANGLE!  ", "draw a red triangle.")]
    public void RenderInstruction_Prompt_UsesTheWorldsPhrasing(string prompt, string expected) =>
        Assert.Equal(expected, ImagesEndpoints.RenderInstruction(prompt));
}
