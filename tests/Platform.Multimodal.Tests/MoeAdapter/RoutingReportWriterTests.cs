using System.Globalization;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using Platform.Inference.Models.Moe;
using Platform.Multimodal.MoeAdapter;

namespace Platform.Multimodal.Tests.MoeAdapter;

public sealed class RoutingReportWriterTests
{
    /// <summary>One layer, 4 experts, top-1: text tokens to experts 0,0,1,1 (shares .5 .5 0 0), image tokens 2,2,2,3 (0 0 .75 .25).</summary>
    private static ModalityRoutingStatistics Known()
    {
        var s = new ModalityRoutingStatistics(1, 4);
        s.Record(0, [0, 0, 1, 1, 2, 2, 2, 3], 1, [Modality.Text, Modality.Text, Modality.Text, Modality.Text, Modality.Image, Modality.Image, Modality.Image, Modality.Image]);
        return s;
    }

    [Fact]
    public void Json_KnownCounts_SharesEntropiesDivergenceAndSpecificExperts()
    {
        var json = RoutingReportWriter.Json([RoutingReport.Of("before", Known(), 0.8)]);
        var layer = json["before"]!["layers"]![0]!;
        Assert.Equal(4, (long)layer["text_tokens"]!);
        Assert.Equal(new double?[] { 0.5, 0.5, 0, 0 }, layer["text_share"]!.AsArray().Select(x => (double?)x).ToArray());
        Assert.Equal(new double?[] { 0, 0, 0.75, 0.25 }, layer["image_share"]!.AsArray().Select(x => (double?)x).ToArray());
        Assert.Equal(1.0, (double)layer["text_entropy_bits"]!, 6);
        // H(.75, .25) = 0.811278; disjoint supports: JS = 1 bit.
        Assert.Equal(0.811278, (double)layer["image_entropy_bits"]!, 5);
        Assert.Equal(1.0, (double)layer["js_divergence_bits"]!, 6);
        Assert.Equal([2, 3], layer["image_specific_experts"]!.AsArray().Select(x => (int)x!).ToArray());
        Assert.Equal([0, 1], layer["text_specific_experts"]!.AsArray().Select(x => (int)x!).ToArray());
    }

    [Fact]
    public void Markdown_KnownCounts_OneSummaryRowAndARowPerExpert()
    {
        var md = RoutingReportWriter.Markdown([RoutingReport.Of("after", Known(), 0.8)]);
        Assert.Contains("### Routing after", md);
        Assert.Contains("| 0 | 4 | 4 | 1.000 | 0.811 | 1.0000 | 2, 3 | 0, 1 |", md);
        Assert.Contains("| 0 | 2 | 0.000 | 0.750 | 1.000 |", md);
        Assert.Equal(4, md.Split('\n').Count(l => l.StartsWith("| 0 | ", StringComparison.Ordinal) && l.Count(c => c == '|') == 6));
    }

    [Fact]
    public void Svg_KnownCounts_ValidXmlWithBarsProportionalToShares()
    {
        var reports = new[] { RoutingReport.Of("before", Known(), 0.8), RoutingReport.Of("after", Known(), 0.8) };
        var svg = XDocument.Parse(RoutingReportWriter.Svg(reports));
        XNamespace ns = "http://www.w3.org/2000/svg";
        var bars = svg.Descendants(ns + "rect").Where(r => r.Attribute("data-share") is not null).ToList();
        Assert.Equal(2 * 1 * 4 * 2, bars.Count);
        // The axis top is the largest share rounded up to a tenth: 0.8, so 0.75 is 15/16 of the panel.
        Assert.Equal(0.8, RoutingReportWriter.AxisTop(reports), 9);
        double H(XElement r) => double.Parse(r.Attribute("height")!.Value, CultureInfo.InvariantCulture);
        var image2 = bars.First(r => r.Attribute("class")!.Value == "image" && r.Attribute("data-expert")!.Value == "2");
        Assert.Equal(RoutingReportWriter.PanelHeight * 0.75 / 0.8, H(image2), 2);
        var text0 = bars.First(r => r.Attribute("class")!.Value == "text" && r.Attribute("data-expert")!.Value == "0");
        Assert.Equal(RoutingReportWriter.PanelHeight * 0.5 / 0.8, H(text0), 2);
        Assert.Equal(0, H(bars.First(r => r.Attribute("class")!.Value == "text" && r.Attribute("data-expert")!.Value == "3")));
        Assert.Contains(svg.Descendants(ns + "text"), t => t.Value.Contains("e2 (img)"));
    }

    [Fact]
    public void Write_Folder_WritesTheThreeFiles()
    {
        var folder = Directory.CreateTempSubdirectory("routing-").FullName;
        try
        {
            RoutingReportWriter.Write(folder, [RoutingReport.Of("before", Known(), 0.8)]);
            Assert.NotNull(JsonNode.Parse(File.ReadAllText(Path.Combine(folder, RoutingReportWriter.JsonFile)))!["before"]);
            Assert.Contains("### Routing before", File.ReadAllText(Path.Combine(folder, RoutingReportWriter.MarkdownFile)));
            XDocument.Load(Path.Combine(folder, RoutingReportWriter.SvgFile));
        }
        finally { Directory.Delete(folder, recursive: true); }
    }
}
