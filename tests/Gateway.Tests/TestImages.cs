namespace Gateway.Tests;

internal static class TestImages
{
    /// <summary>Bytes that start with the PNG signature followed by <paramref name="length"/> - 8 arbitrary bytes.</summary>
    public static byte[] Png(int length)
    {
        var bytes = new byte[length];
        byte[] signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
        signature.CopyTo(bytes, 0);
        for (var i = signature.Length; i < length; i++) bytes[i] = (byte)(i * 31);
        return bytes;
    }
}
