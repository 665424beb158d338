using Platform.Multimodal.Imaging;
using Platform.Multimodal.World;

namespace Platform.Multimodal.Tests.Imaging;

public sealed class ImageCodecTests
{
    private static byte[] ScenePng() => ImageCodec.EncodePng(SceneRenderer.Render(new SceneGenerator(9).NextScene()), WorldSpec.ImageSize, WorldSpec.ImageSize);

    [Fact]
    public void EncodePng_ThenDecode_RoundTripsPixels()
    {
        var rgb = SceneRenderer.Render(new SceneGenerator(9).NextScene());
        var (w, h, decoded) = ImageCodec.DecodeRgb(ImageCodec.EncodePng(rgb, WorldSpec.ImageSize, WorldSpec.ImageSize));
        Assert.Equal((WorldSpec.ImageSize, WorldSpec.ImageSize), (w, h));
        Assert.Equal(rgb, decoded);
    }

    [Fact]
    public void DecodeRgb_TruncatedPng_ThrowsCorrupt()
    {
        var png = ScenePng();
        var e = Assert.Throws<ImageDecodeException>(() => ImageCodec.DecodeRgb(png.AsSpan(0, png.Length / 2), name: "upload.png"));
        Assert.Contains("upload.png", e.Message);
        Assert.Contains("corrupt", e.Message);
    }

    [Fact]
    public void DecodeRgb_Text_ThrowsUnsupportedFormat()
    {
        var e = Assert.Throws<ImageDecodeException>(() => ImageCodec.DecodeRgb("hello, this is not an image"u8));
        Assert.Contains("not a supported image format", e.Message);
    }

    [Fact]
    public void DecodeRgb_Empty_Throws()
    {
        var e = Assert.Throws<ImageDecodeException>(() => ImageCodec.DecodeRgb([]));
        Assert.Contains("empty", e.Message);
    }

    [Fact]
    public void DecodeRgb_TooManyBytes_ThrowsBeforeDecoding()
    {
        var e = Assert.Throws<ImageDecodeException>(() => ImageCodec.DecodeRgb(ScenePng(), new ImageLimits { MaxBytes = 10 }));
        Assert.Contains("exceeds the limit of 10 bytes", e.Message);
    }

    [Fact]
    public void DecodeRgb_TooManyPixels_ThrowsWithDimensions()
    {
        var big = ImageCodec.EncodePng(new byte[200 * 100 * 3], 200, 100);
        var e = Assert.Throws<ImageDecodeException>(() => ImageCodec.DecodeRgb(big, new ImageLimits { MaxPixels = 10_000 }));
        Assert.Contains("200x100", e.Message);
    }

    [Fact]
    public void DecodeToSquare_LargerImage_ResizesToEncoderSize()
    {
        var big = ImageCodec.EncodePng(Enumerable.Repeat((byte)200, 64 * 48 * 3).ToArray(), 64, 48);
        var rgb = ImageCodec.DecodeToSquare(big, 32);
        Assert.Equal(32 * 32 * 3, rgb.Length);
        Assert.All(rgb, b => Assert.Equal(200, b));
    }
}
