using Platform.Multimodal.Imaging;
using Platform.Multimodal.World;

namespace Gateway.Tests.Images;

/// <summary>Pictures of the demo world for requests, and the judge's reading of the pictures that come back.</summary>
internal static class WorldImages
{
    public static SceneObject Object(string colour, Shape shape, ObjectSize size, int row, int column) =>
        new(Array.IndexOf(Palette.Names, colour), shape, size, row, column);

    public static byte[] Png(params SceneObject[] objects)
    {
        var rgb = SceneRenderer.Render(new Scene(objects));
        return ImageCodec.EncodePng(rgb, WorldSpec.ImageSize, WorldSpec.ImageSize);
    }

    public static string DataUrl(byte[] bytes, string mediaType = "image/png") => $"data:{mediaType};base64,{Convert.ToBase64String(bytes)}";

    /// <summary>Decodes a returned PNG (must be the world's size) and reads its objects with <see cref="SceneChecker"/>.</summary>
    public static IReadOnlyList<SceneObject> Read(byte[] png)
    {
        var (w, h, rgb) = ImageCodec.DecodeRgb(png);
        Assert.Equal((WorldSpec.ImageSize, WorldSpec.ImageSize), (w, h));
        return SceneChecker.Check(rgb);
    }

    /// <summary>The URLs of markdown image references in a content string, in order.</summary>
    public static IReadOnlyList<Uri> MarkdownImages(string content) =>
        System.Text.RegularExpressions.Regex.Matches(content, @"!\[image\]\((?<url>[^)\s]+)\)").Select(m => new Uri(m.Groups["url"].Value)).ToList();
}
