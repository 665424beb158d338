namespace Platform.Multimodal.World;

/// <summary>Rasterises scenes into <see cref="WorldSpec.ImageSize"/>-square RGB images (row-major, interleaved RGB bytes), without anti-aliasing so
/// the pixels are an exact function of the scene.</summary>
public static class SceneRenderer
{
    public const int Size = WorldSpec.ImageSize;

    public static byte[] Render(Scene scene)
    {
        var rgb = new byte[Size * Size * 3];
        for (int i = 0; i < Size * Size; i++) Palette.Background.CopyTo(rgb, i * 3);
        foreach (var o in scene.Objects)
        {
            int cx = WorldSpec.CellCentres[o.Column] + scene.JitterX, cy = WorldSpec.CellCentres[o.Row] + scene.JitterY;
            int h = WorldSpec.HalfExtent(o.Size);
            var colour = Palette.Rgb[o.Colour];
            for (int y = cy - h; y <= cy + h; y++)
                for (int x = cx - h; x <= cx + h; x++)
                {
                    if ((uint)x >= Size || (uint)y >= Size || !Inside(o.Shape, x - cx, y - cy, h)) continue;
                    colour.CopyTo(rgb, (y * Size + x) * 3);
                }
        }
        return rgb;
    }

    /// <summary>Whether offset (dx, dy) from the centre lies inside the shape of half extent h.</summary>
    public static bool Inside(Shape shape, int dx, int dy, int h) => shape switch
    {
        Shape.Square => true,
        // r^2 + r rounds the disc outward so small circles are not diamonds.
        Shape.Circle => dx * dx + dy * dy <= h * h + h,
        // Upward isosceles triangle: apex at the top row, base the full width of the bottom row.
        _ => Math.Abs(dx) <= (dy + h) / 2,
    };

    /// <summary>RGB bytes to planar floats in [0, 1] (CHW), the layout every model of the family takes.</summary>
    public static float[] ToPlanar(ReadOnlySpan<byte> rgb)
    {
        int n = rgb.Length / 3;
        var planar = new float[rgb.Length];
        for (int i = 0; i < n; i++)
            for (int c = 0; c < 3; c++) planar[c * n + i] = rgb[i * 3 + c] / 255f;
        return planar;
    }

    /// <summary>Planar floats (CHW, clamped to [0, 1]) back to interleaved RGB bytes.</summary>
    public static byte[] FromPlanar(ReadOnlySpan<float> planar)
    {
        int n = planar.Length / 3;
        var rgb = new byte[planar.Length];
        for (int i = 0; i < n; i++)
            for (int c = 0; c < 3; c++) rgb[i * 3 + c] = (byte)Math.Round(Math.Clamp(planar[c * n + i], 0f, 1f) * 255f);
        return rgb;
    }
}
