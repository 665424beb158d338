using System.Text.Json.Nodes;
using Gateway.Tests.Images;
using Platform.Train.Evaluation;

namespace Gateway.Tests.Evaluation;

/// <summary>The evaluation tool's quick mode on the shipped demo model: every condition and metric, both decoding modes.</summary>
public class ServedEvaluatorTests
{
    [Fact]
    public async Task RunAsync_QuickMode_ReportsEveryConditionInBothModes()
    {
        var report = await new ServedEvaluator(DemoGatewayFixture.ModelFolder(), 2, 4, _ => { }).RunAsync(CancellationToken.None);
        var modes = report["modes"]!.AsObject();
        Assert.Equal(ServedEvaluator.Modes.Select(m => m.Name), modes.Select(m => m.Key));
        foreach (var (_, mode) in modes)
        {
            foreach (var condition in ServedEvaluator.Conditions)
            {
                var scores = mode![condition.Name]!.AsObject();
                foreach (var metric in new[] { "caption_exact", "generation_exact", "answers", "two_image_turns", "multi_image_answers", "follow_up_edits", "retrieval_recall_at_1", "decision_accuracy" })
                    Assert.InRange(scores[metric]!.GetValue<double>(), 0, 1);
                Assert.True(scores["scored_objects"]!.GetValue<int>() >= 2);
            }
            Assert.InRange(mode!["small_talk"]!["held_out_prompts"]!["without_image"]!.GetValue<double>(), 0, 1);
        }
        Assert.Contains("| generation exact |", ReportMarkdown.Render(report));
    }
}
