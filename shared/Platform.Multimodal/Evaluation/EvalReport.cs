using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Platform.Multimodal.Evaluation;

/// <summary>Accuracy figures of one split ("seen" or "held-out"); each value is a fraction in [0, 1].</summary>
public sealed record SplitScores
{
    public double CaptionColour { get; init; }
    public double CaptionShape { get; init; }
    public double CaptionPosition { get; init; }
    public double CaptionSize { get; init; }
    public double CaptionExact { get; init; }
    public double GenerationColour { get; init; }
    public double GenerationShape { get; init; }
    public double GenerationPosition { get; init; }
    public double GenerationSize { get; init; }
    public double GenerationExact { get; init; }
    public double RetrievalRecallAt1 { get; init; }
    public double DecisionAccuracy { get; init; }
    public int Samples { get; init; }
}

public sealed record EvalReport(string Model, SplitScores Seen, SplitScores HeldOut, double Seconds)
{
    public string ToJson() => JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true });

    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Evaluation of {Model} ({Seen.Samples} prompts per task and split, {Seconds:F0} s)");
        sb.AppendLine();
        sb.AppendLine("| metric | seen combinations | held-out combinations |");
        sb.AppendLine("|---|---|---|");
        void Row(string name, Func<SplitScores, double> f) =>
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {f(Seen) * 100:F1}% | {f(HeldOut) * 100:F1}% |");
        Row("caption colour", s => s.CaptionColour);
        Row("caption shape", s => s.CaptionShape);
        Row("caption position", s => s.CaptionPosition);
        Row("caption size", s => s.CaptionSize);
        Row("caption all attributes", s => s.CaptionExact);
        Row("generation colour", s => s.GenerationColour);
        Row("generation shape", s => s.GenerationShape);
        Row("generation position", s => s.GenerationPosition);
        Row("generation size", s => s.GenerationSize);
        Row("generation all attributes", s => s.GenerationExact);
        Row("retrieval recall@1", s => s.RetrievalRecallAt1);
        Row("decision accuracy", s => s.DecisionAccuracy);
        return sb.ToString();
    }
}
