namespace Platform.Multimodal.World;

/// <summary>
/// Independent judge of images of the demo world, written by hand from pixel statistics (no learned weights), so
/// the evaluation of generated images does not trust any model of the family. Each pixel goes to the nearest of
/// the background and palette colours; each colour with enough pixels is one object whose position comes from its
/// centroid, size from its bounding box, and shape from fill ratio (square ~1, circle ~0.75) and the balance of
/// pixels above and below its middle row (an upward triangle has far fewer above).
/// </summary>
public static class SceneChecker
{
    /// <summary>Fewer pixels than this is noise (a small triangle has 25).</summary>
    public const int MinPixels = 12;

    public static IReadOnlyList<SceneObject> Check(ReadOnlySpan<byte> rgb)
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
        var found = new List<SceneObject>();
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
            Shape shape = above < 0.6 * below ? Shape.Triangle : fill > 0.88 ? Shape.Square : Shape.Circle;
            var objectSize = Math.Max(width, height) <= 9 ? ObjectSize.Small : ObjectSize.Large;
            found.Add(new SceneObject(c, shape, objectSize, Cell(cy), Cell(cx)));
        }
        found.Sort((a, b) => a.Cell.CompareTo(b.Cell));
        return found;
    }

    /// <summary>Grid cell of a coordinate: boundaries halfway between the cell centres 8, 16, 24.</summary>
    private static int Cell(double v) => v < 12 ? 0 : v < 20 ? 1 : 2;

    private static int Distance(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        int dr = a[0] - b[0], dg = a[1] - b[1], db = a[2] - b[2];
        return dr * dr + dg * dg + db * db;
    }
}
