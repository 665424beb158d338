using System.Buffers.Text;

namespace Gateway.Validation;

/// <summary>
/// Decodes "data:image/...;base64,..." URLs with a byte limit checked before decoding, and checks the bytes really
/// start like the declared format (PNG, JPEG, GIF, WebP signatures). Full pixel decoding belongs to ImageGen.
/// </summary>
public static class DataUrlImageDecoder
{
    private static readonly Dictionary<string, Func<byte[], bool>> Signatures = new(StringComparer.OrdinalIgnoreCase)
    {
        ["image/png"] = b => b.AsSpan().StartsWith((ReadOnlySpan<byte>)[0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]),
        ["image/jpeg"] = b => b.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF]),
        ["image/gif"] = b => b.AsSpan().StartsWith("GIF87a"u8) || b.AsSpan().StartsWith("GIF89a"u8),
        ["image/webp"] = b => b.Length >= 12 && b.AsSpan(0, 4).SequenceEqual("RIFF"u8) && b.AsSpan(8, 4).SequenceEqual("WEBP"u8),
    };

    /// <summary>Returns the media type and bytes, or an error message (the caller adds the param path).</summary>
    public static (string? MediaType, byte[]? Bytes, string? Error) Decode(string url, int maxBytes)
    {
        if (!url.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
            return (null, null, url.StartsWith("http", StringComparison.OrdinalIgnoreCase)
                ? "Only data URLs (data:image/png;base64,...) are accepted for images; remote URLs are not fetched."
                : "The image URL is not a data URL (data:image/png;base64,...).");
        var comma = url.IndexOf(',');
        if (comma < 0) return (null, null, "The data URL has no ',' before its data.");
        var header = url.AsSpan(5, comma - 5);
        const string base64Suffix = ";base64";
        if (!header.EndsWith(base64Suffix, StringComparison.OrdinalIgnoreCase))
            return (null, null, "The image data URL must be base64 encoded (data:image/png;base64,...).");
        var mediaType = header[..^base64Suffix.Length].ToString();
        if (!Signatures.TryGetValue(mediaType, out var check))
            return (null, null, $"Unsupported image type '{mediaType}'; use image/png, image/jpeg, image/gif or image/webp.");
        var data = url.AsSpan(comma + 1);
        var maxDecoded = Base64.GetMaxDecodedFromUtf8Length(data.Length);
        if (maxDecoded - 2 > maxBytes)
            return (null, null, $"The image is larger than the limit of {maxBytes} bytes.");
        var bytes = new byte[maxDecoded];
        if (!Convert.TryFromBase64Chars(data, bytes, out var written))
            return (null, null, "The image data is not valid base64.");
        if (written > maxBytes)
            return (null, null, $"The image is larger than the limit of {maxBytes} bytes.");
        if (written == 0) return (null, null, "The image data is empty.");
        Array.Resize(ref bytes, written);
        return check(bytes)
            ? (mediaType.ToLowerInvariant(), bytes, null)
            : (null, null, $"The image bytes are not a valid {mediaType} file (wrong signature).");
    }
}
