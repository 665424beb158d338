using Platform.Multimodal.World;

namespace Platform.Browser.Tests;

/// <summary>Pixels of an &lt;img&gt; as the page holds them (drawn into a canvas, read with getImageData), and what
/// they show: the object's colour by the world's palette and where it sits.</summary>
public sealed record ImagePixels(int Width, int Height, byte[] Rgba)
{
    public static async Task<ImagePixels> ReadAsync(ILocator img)
    {
        await img.EvaluateAsync("i => i.complete && i.naturalWidth > 0 ? 0 : new Promise((ok, fail) => { i.onload = ok; i.onerror = fail; })");
        var json = await img.EvaluateAsync<string>("""
            i => {
              const c = document.createElement('canvas');
              c.width = i.naturalWidth; c.height = i.naturalHeight;
              const g = c.getContext('2d');
              g.drawImage(i, 0, 0);
              return JSON.stringify({ width: c.width, height: c.height, data: Array.from(g.getImageData(0, 0, c.width, c.height).data) });
            }
            """);
        var result = System.Text.Json.JsonSerializer.Deserialize<PixelDto>(json, new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web))!;
        return new ImagePixels(result.Width, result.Height, result.Data.Select(v => (byte)v).ToArray());
    }

    private sealed record PixelDto(int Width, int Height, int[] Data);

    private (int R, int G, int B) At(int x, int y)
    {
        var i = (y * Width + x) * 4;
        return (Rgba[i], Rgba[i + 1], Rgba[i + 2]);
    }

    /// <summary>The background is the commonest colour along the border; the object is every pixel far from it.
    /// Returns the object's share of the image, its mean colour's nearest palette name and its centroid (0..1).</summary>
    public (double Share, string Colour, double X, double Y) Foreground()
    {
        var border = new List<(int, int, int)>();
        for (var x = 0; x < Width; x++) { border.Add(At(x, 0)); border.Add(At(x, Height - 1)); }
        for (var y = 0; y < Height; y++) { border.Add(At(0, y)); border.Add(At(Width - 1, y)); }
        var bg = border.GroupBy(c => (c.Item1 / 16, c.Item2 / 16, c.Item3 / 16)).OrderByDescending(g => g.Count()).First()
            .Aggregate((0, 0, 0), (s, c) => (s.Item1 + c.Item1, s.Item2 + c.Item2, s.Item3 + c.Item3));
        var bgCount = border.GroupBy(c => (c.Item1 / 16, c.Item2 / 16, c.Item3 / 16)).Max(g => g.Count());
        var (br, bgG, bb) = (bg.Item1 / bgCount, bg.Item2 / bgCount, bg.Item3 / bgCount);
        long r = 0, g = 0, b = 0, sx = 0, sy = 0, n = 0;
        for (var y = 0; y < Height; y++)
        for (var x = 0; x < Width; x++)
        {
            var p = At(x, y);
            if (Math.Abs(p.R - br) + Math.Abs(p.G - bgG) + Math.Abs(p.B - bb) < 120) continue;
            r += p.R; g += p.G; b += p.B; sx += x; sy += y; n++;
        }
        if (n == 0) return (0, "none", 0, 0);
        var mean = (R: r / (double)n, G: g / (double)n, B: b / (double)n);
        var nearest = Enumerable.Range(0, Palette.Count).MinBy(i =>
            Math.Pow(Palette.Rgb[i][0] - mean.R, 2) + Math.Pow(Palette.Rgb[i][1] - mean.G, 2) + Math.Pow(Palette.Rgb[i][2] - mean.B, 2));
        return (n / (double)(Width * Height), Palette.Names[nearest], (sx / (double)n + 0.5) / Width, (sy / (double)n + 0.5) / Height);
    }
}
