namespace Platform.Multimodal.World;

/// <summary>
/// Independent judge of images of the demo world, written by hand from pixel statistics (no learned weights), so
/// the evaluation of generated images does not trust any model of the family. Each pixel goes to the nearest of
/// the background and palette colours; each colour with enough pixels is one object whose position comes from its
/// centroid, size from its bounding box, and shape from fill ratio (square ~1, circle ~0.75) and the balance of
/// pixels above and below its middle row (an upward triangle has far fewer above). A shape that matches none of
/// the three profiles (fill ratio, balance and aspect ratio each inside the band of one rendered shape) is unclear:
/// <see cref="Read"/> reports it with a null shape and <see cref="Check"/> leaves it out, so an unclear shape always
/// scores as a wrong one.
/// </summary>
public static class SceneChecker
{
    /// <summary>Fewer pixels than this is noise (a small triangle has 85 at 64x64).</summary>
    public const int MinPixels = 12 * WorldSpec.ImageSize * WorldSpec.ImageSize / 1024;

    /// <summary>The objects whose every attribute is clear, in reading order (an object of unclear shape is left out).</summary>
    public static IReadOnlyList<SceneObject> Check(ReadOnlySpan<byte> rgb) =>
        Read(rgb).Where(o => o.Shape is not null).Select(o => new SceneObject(o.Colour, o.Shape!.Value, o.Size, o.Row, o.Column)).ToList();

    /// <summary>Every object found, in reading order, with a null shape where the pixels fit no shape's profile.</summary>
    public static IReadOnlyList<CheckedObject> Read(ReadOnlySpan<byte> rgb)
    {
        int size = WorldSpec.ImageSize;
        if (rgb.Length != size * size * 3)
            throw new ArgumentException($"expected {size}x{size} RGB ({size * size * 3} bytes), got {rgb.Length} bytes", nameof(rgb));
        var label = new int[size * size];
        var counts = new int[Palette.Count];
        for (int i = 0; i < size * size; i++)
        {
            int best = -1;
            int bestDistance = Distance(rgb.Slice(i * 3, 3), Palette.Background);
            for (int c = 0; c < Palette.Count; c++)
            {
                int d = Distance(rgb.Slice(i * 3, 3), Palette.Rgb[c]);
                if (d < bestDistance) (best, bestDistance) = (c, d);
            }
            label[i] = best;
            if (best >= 0) counts[best]++;
        }
        var found = new List<CheckedObject>();
        for (int c = 0; c < Palette.Count; c++)
        {
            if (counts[c] < MinPixels) continue;
            int minX = size, minY = size, maxX = -1, maxY = -1;
            double sumX = 0, sumY = 0;
            for (int i = 0; i < label.Length; i++)
            {
                if (label[i] != c) continue;
                int x = i % size, y = i / size;
                minX = Math.Min(minX, x); maxX = Math.Max(maxX, x); minY = Math.Min(minY, y); maxY = Math.Max(maxY, y);
                sumX += x; sumY += y;
            }
            double cx = sumX / counts[c], cy = sumY / counts[c];
            double midRow = (minY + maxY) / 2.0;
            int above = 0, below = 0;
            for (int i = 0; i < label.Length; i++)
            {
                if (label[i] != c) continue;
                int y = i / size;
                if (y < midRow) above++; else if (y > midRow) below++;
            }
            int width = maxX - minX + 1, height = maxY - minY + 1;
            double fill = counts[c] / (double)(width * height);
            var objectSize = Math.Max(width, height) <= SizeBoundary ? ObjectSize.Small : ObjectSize.Large;
            found.Add(new CheckedObject(c, ShapeOf(fill, above / (double)Math.Max(1, below), width / (double)height), objectSize, Cell(cy), Cell(cx)));
        }
        found.Sort((a, b) => a.Cell.CompareTo(b.Cell));
        return found;
    }

    /// <summary>Largest extent of a small object: halfway between the small (13 px) and large (25 px) spans.</summary>
    public const int SizeBoundary = (WorldSpec.ImageSize * 3 / 32 + WorldSpec.ImageSize * 3 / 16) + 1;

    /// <summary>Profiles measured on the renderer (<see cref="SceneRenderer.Inside"/>) at both sizes: a square fills
    /// its box (1.0) with balance 1, a circle fills 0.78-0.81 with balance 1, an upward triangle fills 0.50 with
    /// balance (pixels above / below the middle row) 0.30-0.32; all have aspect ratio 1. Each band is wide enough for
    /// mild noise and jitter and leaves gaps between shapes; anything in a gap is unclear.</summary>
    public static Shape? ShapeOf(double fill, double balance, double aspect)
    {
        if (aspect is < 0.8 or > 1.25) return null;
        if (balance is > 0.15 and < 0.55 && fill is > 0.38 and < 0.62) return Shape.Triangle;
        if (balance is < 0.85 or > 1.18) return null;
        if (fill > 0.93) return Shape.Square;
        if (fill is > 0.7 and < 0.88) return Shape.Circle;
        return null;
    }

    /// <summary>Grid cell of a coordinate: boundaries halfway between the cell centres.</summary>
    private static int Cell(double v) =>
        v < (WorldSpec.CellCentres[0] + WorldSpec.CellCentres[1]) / 2.0 ? 0 : v < (WorldSpec.CellCentres[1] + WorldSpec.CellCentres[2]) / 2.0 ? 1 : 2;

    private static int Distance(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        int dr = a[0] - b[0], dg = a[1] - b[1], db = a[2] - b[2];
        return dr * dr + dg * dg + db * db;
    }
}

/// <summary>One object read by <see cref="SceneChecker.Read"/>: <see cref="Shape"/> is null when the pixels fit no shape.</summary>
public sealed record CheckedObject(int Colour, Shape? Shape, ObjectSize Size, int Row, int Column)
{
    public int Cell => Row * 3 + Column;
}
