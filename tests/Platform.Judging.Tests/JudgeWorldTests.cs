using Platform.Multimodal.World;
using Platform.Train.Judge;

namespace Platform.Judging.Tests;

public class JudgeWorldTests
{
    private static readonly string[] HeldOutPairs = WorldSpec.HeldOut.Select(h => $"{Palette.Names[h.Colour]} {WorldText.ShapeName(h.Shape)}").ToArray();

    [Fact]
    public void Next_SeenSplit_NeverNamesAHeldOutPairInPromptOrTarget()
    {
        var world = new JudgeWorld(4321, WorldSplit.Seen);
        for (int i = 0; i < 3000; i++)
        {
            var e = world.Next();
            foreach (var pair in HeldOutPairs)
            {
                Assert.DoesNotContain(pair, e.Prompt);
                Assert.DoesNotContain(pair, e.Target);
            }
        }
    }

    [Fact]
    public void EvalPair_HeldOutSplit_RequestNamesAHeldOutPair()
    {
        var world = new JudgeWorld(20261201, WorldSplit.HeldOut);
        for (int i = 0; i < 200; i++)
        {
            var (query, truth, _, _, _) = world.EvalPair();
            Assert.True(truth.NamesHeldOut);
            Assert.Contains(HeldOutPairs, p => query.Contains(p, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Next_Targets_FollowTheGroundTruth()
    {
        var world = new JudgeWorld(7, WorldSplit.Seen);
        for (int i = 0; i < 500; i++)
        {
            var e = world.Next();
            switch (e.Kind)
            {
                case "single":
                    Assert.Equal(JudgeWorld.RatingByRight[e.Responses[0].Right(e.Request)], VerdictParser.ParseRating(e.Target));
                    break;
                case "ordered":
                    Assert.Equal(e.Winner switch { 0 => PairwiseVerdict.Response1, 1 => PairwiseVerdict.Response2, _ => PairwiseVerdict.Tie },
                        VerdictParser.ParseComparison(e.Target));
                    break;
                default:
                    Assert.Equal(e.Winner switch { 0 => FocusVerdict.Better, 1 => FocusVerdict.Worse, _ => FocusVerdict.Tie },
                        VerdictParser.ParseFocus(e.Target));
                    break;
            }
            foreach (var (says, truth) in e.Responses.SelectMany(r => r.Errors(e.Request)))
                Assert.Contains($"says {says}; the request says {truth}.", e.Target);
        }
    }
}
