namespace Platform.Multimodal.World;

/// <summary>One turn of a demo-world conversation. <see cref="Text"/> holds one "&lt;image&gt;" per input image;
/// an assistant turn that shows a picture ends with the GILL tokens [IMG0]..[IMG7] and names the scene it shows.</summary>
public sealed record WorldTurn(string Role, string Text, IReadOnlyList<Scene> InputImages, Scene? OutputScene = null, bool Retrieve = false);

/// <summary>A conversation of the demo world; <see cref="Kind"/> is caption, instruction, retrieval, question or dialogue.</summary>
public sealed record WorldDialogue(string Kind, IReadOnlyList<WorldTurn> Turns);

/// <summary>Words and sentences of the demo world.</summary>
public static class WorldText
{
    public const int ImageTokenCount = 8;
    public static readonly string[] ImageTokens = Enumerable.Range(0, ImageTokenCount).Select(i => $"[IMG{i}]").ToArray();
    public static readonly string ImageTokenRun = string.Concat(ImageTokens);
    public const string ImagePlaceholder = "<image>";

    public static readonly string[] RowNames = ["top", "middle", "bottom"];
    public static readonly string[] ColumnNames = ["left", "center", "right"];
    public static string PositionName(int row, int column) => $"{RowNames[row]} {ColumnNames[column]}";
    public static string ShapeName(Shape s) => s switch { Shape.Circle => "circle", Shape.Square => "square", _ => "triangle" };

    public static readonly string[] DrawVerbs = Platform.Contracts.Images.DemoWorldPhrasing.DrawVerbs;
    public static readonly string[] RetrieveVerbs = ["show me the picture of", "find the picture of", "fetch the photo of"];
    public static readonly string[] DescribePrompts = ["describe the image.", "what is in this picture?", "caption this image."];

    /// <summary>Parses a caption produced by the world (or by a model) back into objects; null when it does not parse.
    /// Used by the evaluation to score captions attribute by attribute.</summary>
    public static IReadOnlyList<(string? Size, string? Colour, string? Shape, string? Position)> ParseCaption(string text)
    {
        var result = new List<(string?, string?, string?, string?)>();
        foreach (var part in text.Trim().TrimEnd('.').Split(" and ", StringSplitOptions.RemoveEmptyEntries))
        {
            var words = part.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            string? size = words.FirstOrDefault(w => w is "small" or "large");
            string? colour = words.FirstOrDefault(w => Palette.Names.Contains(w));
            string? shape = words.FirstOrDefault(w => w is "circle" or "square" or "triangle");
            string? position = null;
            int at = Array.IndexOf(words, "the");
            if (at >= 0 && at + 2 < words.Length) position = $"{words[at + 1]} {words[at + 2]}";
            result.Add((size, colour, shape, position));
        }
        return result;
    }
}
