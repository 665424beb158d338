namespace Platform.Multimodal.World;

/// <summary>Shapes of the demo world. The hand-written checker tells them apart by fill ratio and top/bottom balance.</summary>
public enum Shape { Circle, Square, Triangle }

public enum ObjectSize { Small, Large }

/// <summary>One object of a scene: colour (index into <see cref="Palette"/>), shape, size and 3x3 grid cell.</summary>
public sealed record SceneObject(int Colour, Shape Shape, ObjectSize Size, int Row, int Column)
{
    public int Cell => Row * 3 + Column;
    public string ColourName => Palette.Names[Colour];
    public string ShapeName => WorldText.ShapeName(Shape);
    public string SizeName => Size == ObjectSize.Small ? "small" : "large";
    public string PositionName => WorldText.PositionName(Row, Column);
    /// <summary>"a small red circle at the top left".</summary>
    public string Describe() => $"a {SizeName} {ColourName} {ShapeName} at the {PositionName}";
}

/// <summary>A scene: one or two objects (different colours, non-adjacent cells) in reading order, plus pixel jitter
/// used only for input images (decoder targets are rendered without jitter so the target is a function of the
/// attributes alone).</summary>
public sealed record Scene(IReadOnlyList<SceneObject> Objects, int JitterX = 0, int JitterY = 0)
{
    public string Caption() => string.Join(" and ", Objects.Select(o => o.Describe()));
    public Scene WithoutJitter() => this with { JitterX = 0, JitterY = 0 };
    /// <summary>Whether any object is a colour/shape pair that no training stream may contain (design or test split).</summary>
    public bool IsHeldOut => Objects.Any(o => WorldSpec.IsHeldOut(o.Colour, o.Shape));
}

/// <summary>The fixed palette. Colours are far apart in RGB so a nearest-colour rule classifies them.</summary>
public static class Palette
{
    public static readonly string[] Names = ["red", "green", "blue", "yellow", "purple", "white"];
    public static readonly byte[][] Rgb =
    [
        [220, 40, 40], [40, 180, 60], [50, 90, 235], [235, 215, 40], [160, 60, 205], [235, 235, 235],
    ];
    public static readonly byte[] Background = [24, 24, 32];
    public static int Count => Names.Length;
}

/// <summary>Geometry and the held-out colour/shape combinations.</summary>
public static class WorldSpec
{
    /// <summary>Images are 64x64 RGB: big enough for a person to judge by eye, small enough that every model of the
    /// family trains on 2 CPU cores within the 45-minute budget. Every other length of the world (cell centres,
    /// object extents, jitter, the checker's thresholds) and the models' default image_size derive from this value.</summary>
    public const int ImageSize = 64;
    /// <summary>Centres of the grid cells (same for x and y): a quarter, half and three quarters of the image.</summary>
    public static readonly int[] CellCentres = [ImageSize / 4, ImageSize / 2, ImageSize * 3 / 4];
    /// <summary>Half extent in pixels: a small object spans 13 pixels, a large one 25 (at 64x64).</summary>
    public static int HalfExtent(ObjectSize size) => size == ObjectSize.Small ? ImageSize * 3 / 32 : ImageSize * 3 / 16;
    public const int MaxJitter = ImageSize / 32;
    public const int MaxObjects = 2;

    /// <summary>The design split: never seen in any training example of any model. These pairs guided the design
    /// of the family (architecture and training choices were made while watching their figures).</summary>
    public static readonly (int Colour, Shape Shape)[] HeldOut =
    [
        (0, Shape.Triangle), // red triangle
        (1, Shape.Circle),   // green circle
        (2, Shape.Square),   // blue square
        (3, Shape.Circle),   // yellow circle
    ];

    /// <summary>The test split: also absent from every training stream, and never looked at while designing; the
    /// published figures are measured on it.</summary>
    public static readonly (int Colour, Shape Shape)[] TestPairs =
    [
        (4, Shape.Square),   // purple square
        (5, Shape.Triangle), // white triangle
    ];

    /// <summary>Whether a pair is kept out of training (design or test split).</summary>
    public static bool IsHeldOut(int colour, Shape shape) => HeldOut.Contains((colour, shape)) || TestPairs.Contains((colour, shape));

    public static bool IsTestPair(int colour, Shape shape) => TestPairs.Contains((colour, shape));

    public static bool IsDesignPair(int colour, Shape shape) => HeldOut.Contains((colour, shape));
}
