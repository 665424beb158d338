using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Platform.Train.Evaluation;

/// <summary>The evaluation report as markdown tables: one per decoding mode, a column per condition.</summary>
public static class ReportMarkdown
{
    public static string Render(JsonObject report)
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Evaluation of {report["model"]} through the gateway ({report["samples_per_task"]} requests per task and condition, {report["seconds"]} s)");
        foreach (var (mode, node) in report["modes"]!.AsObject())
        {
            var conditions = ServedEvaluator.Conditions.Select(c => c.Name).ToList();
            sb.AppendLine();
            sb.AppendLine(CultureInfo.InvariantCulture, $"### {mode}");
            sb.AppendLine();
            sb.AppendLine("| metric | " + string.Join(" | ", conditions) + " |");
            sb.AppendLine("|---|" + string.Concat(conditions.Select(_ => "---|")));
            var metrics = node![conditions[0]]!.AsObject().Select(kv => kv.Key).Where(k => k is not "role" and not "scored_objects");
            foreach (var metric in metrics)
                sb.AppendLine("| " + metric.Replace('_', ' ') + " | " + string.Join(" | ", conditions.Select(c => Percent(node[c]![metric]))) + " |");
            var talk = node["small_talk"]!;
            sb.AppendLine();
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"Small talk and out-of-world requests: trained prompts {Percent(talk["trained_prompts"]!["without_image"])} without an image ({Percent(talk["trained_prompts"]!["exact_answer"])} the exact answer), " +
                $"held-out prompts {Percent(talk["held_out_prompts"]!["without_image"])} without an image ({Percent(talk["held_out_prompts"]!["exact_answer"])} exact)."));
        }
        return sb.ToString();
    }

    private static string Percent(JsonNode? value) => value is null ? "-" : $"{value.GetValue<double>() * 100:F1}%";
}
