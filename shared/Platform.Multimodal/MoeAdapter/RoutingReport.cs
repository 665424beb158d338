using System.Globalization;
using System.Security;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Platform.Inference.Models.Moe;

namespace Platform.Multimodal.MoeAdapter;

/// <summary>One routing measurement (e.g. "before" or "after" adapter training): every sparse layer's summary.</summary>
public sealed record RoutingReport(string Label, double Threshold, IReadOnlyList<LayerRoutingStatistics> Layers)
{
    public static RoutingReport Of(string label, ModalityRoutingStatistics statistics, double threshold) =>
        new(label, threshold, statistics.SummariseAll(threshold));
}

/// <summary>
/// Writes routing reports as routing.json, routing.md (tables) and routing.svg (grouped bars: per layer and expert the
/// share of text and of image slots, one row of panels per report). The SVG is written by hand: a few dozen
/// rectangles and labels need no plotting library, and the bars' geometry stays exact and testable.
/// </summary>
public static class RoutingReportWriter
{
    public const string JsonFile = "routing.json";
    public const string MarkdownFile = "routing.md";
    public const string SvgFile = "routing.svg";
    public const string TextColour = "#4477aa";
    public const string ImageColour = "#ee7733";
    public const double PanelWidth = 220, PanelHeight = 120, Margin = 40, HeaderHeight = 36;

    public static void Write(string folder, IReadOnlyList<RoutingReport> reports)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, JsonFile), Json(reports).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        File.WriteAllText(Path.Combine(folder, MarkdownFile), Markdown(reports));
        File.WriteAllText(Path.Combine(folder, SvgFile), Svg(reports));
    }

    private static string F(double x, int digits = 4) => double.IsNaN(x) ? "n/a" : x.ToString("F" + digits, CultureInfo.InvariantCulture);
    private static JsonNode? N(double x) => double.IsNaN(x) ? null : JsonValue.Create(Math.Round(x, 6));

    public static JsonObject Json(IReadOnlyList<RoutingReport> reports)
    {
        var root = new JsonObject();
        foreach (var r in reports)
        {
            root[r.Label] = new JsonObject
            {
                ["modality_specific_threshold"] = r.Threshold,
                ["layers"] = new JsonArray(r.Layers.Select(l => (JsonNode)new JsonObject
                {
                    ["layer"] = l.Layer,
                    ["text_tokens"] = l.TextTokens,
                    ["image_tokens"] = l.ImageTokens,
                    ["text_share"] = new JsonArray(l.TextShare.Select(N).ToArray()),
                    ["image_share"] = new JsonArray(l.ImageShare.Select(N).ToArray()),
                    ["image_fraction"] = new JsonArray(l.ImageFraction.Select(N).ToArray()),
                    ["text_entropy_bits"] = N(l.TextEntropyBits),
                    ["image_entropy_bits"] = N(l.ImageEntropyBits),
                    ["js_divergence_bits"] = N(l.JensenShannonBits),
                    ["image_specific_experts"] = new JsonArray(l.ImageSpecific.Select(e => (JsonNode)e).ToArray()),
                    ["text_specific_experts"] = new JsonArray(l.TextSpecific.Select(e => (JsonNode)e).ToArray()),
                }).ToArray()),
            };
        }
        return root;
    }

    public static string Markdown(IReadOnlyList<RoutingReport> reports)
    {
        var s = new StringBuilder();
        foreach (var r in reports)
        {
            s.AppendLine($"### Routing {r.Label}");
            s.AppendLine();
            s.AppendLine($"Modality-specific: an expert whose image fraction (image share / (text share + image share)) is at least {F(r.Threshold, 2)} is image-specific, at most {F(1 - r.Threshold, 2)} text-specific.");
            s.AppendLine();
            s.AppendLine("| layer | text tokens | image tokens | text entropy (bits) | image entropy (bits) | JS divergence (bits) | image-specific | text-specific |");
            s.AppendLine("|---|---|---|---|---|---|---|---|");
            foreach (var l in r.Layers)
                s.AppendLine($"| {l.Layer} | {l.TextTokens} | {l.ImageTokens} | {F(l.TextEntropyBits, 3)} | {F(l.ImageEntropyBits, 3)} | {F(l.JensenShannonBits)} | {List(l.ImageSpecific)} | {List(l.TextSpecific)} |");
            s.AppendLine();
            s.AppendLine("| layer | expert | text share | image share | image fraction |");
            s.AppendLine("|---|---|---|---|---|");
            foreach (var l in r.Layers)
                for (int e = 0; e < l.TextShare.Length; e++)
                    s.AppendLine($"| {l.Layer} | {e} | {F(l.TextShare[e], 3)} | {F(l.ImageShare[e], 3)} | {F(l.ImageFraction[e], 3)} |");
            s.AppendLine();
        }
        return s.ToString();
    }

    private static string List(int[] experts) => experts.Length == 0 ? "none" : string.Join(", ", experts);

    /// <summary>The y-axis top of every panel: the largest share rounded up to a tenth (at least 0.1).</summary>
    public static double AxisTop(IReadOnlyList<RoutingReport> reports)
    {
        double max = reports.SelectMany(r => r.Layers).SelectMany(l => l.TextShare.Concat(l.ImageShare)).DefaultIfEmpty(0).Max();
        return Math.Max(0.1, Math.Ceiling(max * 10 - 1e-9) / 10);
    }

    public static string Svg(IReadOnlyList<RoutingReport> reports)
    {
        int layers = reports.Count == 0 ? 0 : reports.Max(r => r.Layers.Count);
        double top = AxisTop(reports);
        double width = Margin + layers * (PanelWidth + Margin), height = HeaderHeight + reports.Count * (PanelHeight + 2 * Margin);
        var s = new StringBuilder();
        string X(double v) => v.ToString("F2", CultureInfo.InvariantCulture);
        s.AppendLine($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{X(width)}\" height=\"{X(height)}\" viewBox=\"0 0 {X(width)} {X(height)}\" font-family=\"sans-serif\" font-size=\"11\">");
        s.AppendLine($"<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
        s.AppendLine($"<text x=\"{X(Margin)}\" y=\"16\" font-size=\"13\">Share of each modality's routed slots per expert (y axis 0 to {X(top)}): <tspan fill=\"{TextColour}\">text</tspan>, <tspan fill=\"{ImageColour}\">image</tspan></text>");
        for (int ri = 0; ri < reports.Count; ri++)
        {
            var r = reports[ri];
            double y0 = HeaderHeight + ri * (PanelHeight + 2 * Margin) + Margin;
            for (int li = 0; li < r.Layers.Count; li++)
            {
                var l = r.Layers[li];
                double x0 = Margin + li * (PanelWidth + Margin);
                int experts = l.TextShare.Length;
                s.AppendLine($"<text x=\"{X(x0)}\" y=\"{X(y0 - 8)}\">{SecurityElement.Escape(r.Label)}, layer {l.Layer}: JS {F(l.JensenShannonBits, 3)} bits</text>");
                s.AppendLine($"<line x1=\"{X(x0)}\" y1=\"{X(y0 + PanelHeight)}\" x2=\"{X(x0 + PanelWidth)}\" y2=\"{X(y0 + PanelHeight)}\" stroke=\"black\"/>");
                s.AppendLine($"<line x1=\"{X(x0)}\" y1=\"{X(y0)}\" x2=\"{X(x0)}\" y2=\"{X(y0 + PanelHeight)}\" stroke=\"black\"/>");
                double group = PanelWidth / Math.Max(1, experts), bar = group * 0.35;
                for (int e = 0; e < experts; e++)
                {
                    double gx = x0 + e * group + group * 0.15;
                    Bar(s, "text", TextColour, l.Layer, e, l.TextShare[e], gx, y0, bar, top, r.Label);
                    Bar(s, "image", ImageColour, l.Layer, e, l.ImageShare[e], gx + bar, y0, bar, top, r.Label);
                    bool image = l.ImageSpecific.Contains(e), text = l.TextSpecific.Contains(e);
                    s.AppendLine($"<text x=\"{X(gx + bar)}\" y=\"{X(y0 + PanelHeight + 14)}\" text-anchor=\"middle\">e{e}{(image ? " (img)" : text ? " (txt)" : "")}</text>");
                }
            }
        }
        s.AppendLine("</svg>");
        return s.ToString();
    }

    private static void Bar(StringBuilder s, string modality, string colour, int layer, int expert, double share, double x, double y0, double width, double top, string label)
    {
        double h = PanelHeight * Math.Clamp(share / top, 0, 1);
        string X(double v) => v.ToString("F2", CultureInfo.InvariantCulture);
        s.AppendLine($"<rect class=\"{modality}\" data-report=\"{SecurityElement.Escape(label)}\" data-layer=\"{layer}\" data-expert=\"{expert}\" data-share=\"{share.ToString("F4", CultureInfo.InvariantCulture)}\" " +
                     $"x=\"{X(x)}\" y=\"{X(y0 + PanelHeight - h)}\" width=\"{X(width)}\" height=\"{X(h)}\" fill=\"{colour}\"/>");
    }
}
