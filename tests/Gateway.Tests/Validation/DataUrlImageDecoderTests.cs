using Gateway.Validation;

namespace Gateway.Tests.Validation;

public class DataUrlImageDecoderTests
{
    [Theory]
    [InlineData("image/png", new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A, 1, 2 })]
    [InlineData("image/jpeg", new byte[] { 0xFF, 0xD8, 0xFF, 0xE0, 1 })]
    [InlineData("image/gif", new byte[] { (byte)'G', (byte)'I', (byte)'F', (byte)'8', (byte)'9', (byte)'a', 0 })]
    [InlineData("image/webp", new byte[] { (byte)'R', (byte)'I', (byte)'F', (byte)'F', 0, 0, 0, 0, (byte)'W', (byte)'E', (byte)'B', (byte)'P' })]
    public void Decode_ValidSignature_ReturnsBytes(string mediaType, byte[] bytes)
    {
        var (type, decoded, error) = DataUrlImageDecoder.Decode($"data:{mediaType};base64,{Convert.ToBase64String(bytes)}", 1024);
        Assert.Null(error);
        Assert.Equal(mediaType, type);
        Assert.Equal(bytes, decoded);
    }

    [Fact]
    public void Decode_ExactlyAtLimit_IsAccepted()
    {
        var png = TestImages.Png(64);
        var (_, decoded, error) = DataUrlImageDecoder.Decode("data:image/png;base64," + Convert.ToBase64String(png), png.Length);
        Assert.Null(error);
        Assert.Equal(png.Length, decoded!.Length);
    }

    [Fact]
    public void Decode_OneByteOverLimit_IsRejected()
    {
        var png = TestImages.Png(64);
        var (_, decoded, error) = DataUrlImageDecoder.Decode("data:image/png;base64," + Convert.ToBase64String(png), png.Length - 1);
        Assert.Null(decoded);
        Assert.Contains("larger than the limit", error);
    }

    [Fact]
    public void Decode_EmptyData_IsRejected()
    {
        var (_, _, error) = DataUrlImageDecoder.Decode("data:image/png;base64,", 100);
        Assert.Equal("The image data is empty.", error);
    }
}
