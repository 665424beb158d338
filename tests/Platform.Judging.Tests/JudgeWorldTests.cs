using Platform.Multimodal.World;
using Platform.Train.Judge;

namespace Platform.Judging.Tests;

/// <summary>The demo judge's data: no held-out colour/shape pair (design or test split) in any training stream (prompt,
/// target, pictures rendered or drawn by the decoder, read back by the pixel checker), the evaluation split on test
/// pairs, and targets that follow the ground truth.</summary>
public class JudgeWorldTests
{
    private static readonly string[] HeldOutPairs = WorldSpec.HeldOut.Concat(WorldSpec.TestPairs)
        .Select(h => $"{Palette.Names[h.Colour]} {WorldText.ShapeName(h.Shape)}").ToArray();

    private static string FamilyFolder([System.Runtime.CompilerServices.CallerFilePath] string sourceFile = "")
    {
        for (var dir = new DirectoryInfo(Path.GetDirectoryName(sourceFile)!); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Platform.sln"))) return Path.Combine(dir.FullName, "models", "demo");
        throw new DirectoryNotFoundException("Platform.sln not found above the test sources");
    }

    /// <summary>The training stream at the trainer's defaults (seed, decoder share, the demo family's decoder).</summary>
    private static JudgeWorld TrainingWorld()
    {
        var o = new JudgeTrainOptions();
        return new JudgeWorld(o.Seed, WorldSplit.Seen, JudgePictures.WithDecoder(o.Seed + 303, FamilyFolder(), WorldSplit.Seen, o.DecoderShare));
    }

    [Fact]
    public void Next_SeenSplit_NeverHoldsAHeldOutPair()
    {
        var world = TrainingWorld();
        int pictures = 0, decoded = 0;
        var media = new HashSet<JudgeMedium>();
        for (int i = 0; i < 3000; i++)
        {
            var e = world.Next();
            media.Add(e.Medium);
            foreach (var pair in HeldOutPairs)
            {
                Assert.DoesNotContain(pair, e.Prompt);
                Assert.DoesNotContain(pair, e.Target);
            }
            Assert.False(e.Request.NamesHeldOut);
            Assert.DoesNotContain(e.Responses, r => r.NamesHeldOut);
            foreach (var p in e.Pictures)
            {
                pictures++;
                if (p.FromDecoder) decoded++;
                Assert.False(p.Shown.NamesHeldOut);
                // What the pixels show, read independently of the labels.
                Assert.DoesNotContain(SceneChecker.Check(p.Rgb), o => WorldSpec.IsHeldOut(o.Colour, o.Shape));
            }
        }
        Assert.Equal(3, media.Count);
        Assert.True(pictures > 1000, $"{pictures} pictures");
        Assert.True(decoded > 100, $"{decoded} decoder pictures");
    }

    [Fact]
    public void PairCase_TestSplit_TruthIsATestPair()
    {
        foreach (var medium in Enum.GetValues<JudgeMedium>())
        {
            var world = new JudgeWorld(JudgeEvaluator.Seed + (int)medium, WorldSplit.Test);
            for (int i = 0; i < 100; i++)
            {
                var c = world.PairCase(medium);
                Assert.True(WorldSpec.IsTestPair(c.Truth.Colour, c.Truth.Shape));
                if (medium == JudgeMedium.Caption) Assert.NotNull(c.QueryPicture);
                else Assert.Contains(c.Truth.Text, c.Query);
            }
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
            var (verb, reference) = e.Medium switch
            {
                JudgeMedium.Image => ("shows", "the request says"),
                JudgeMedium.Caption => ("says", "the image shows"),
                _ => ("says", "the request says"),
            };
            foreach (var r in e.Responses)
            {
                Assert.Contains($"{verb} {r.Text}; {reference} {e.Request.Text}.", e.Target);
                foreach (var (says, truth) in r.Errors(e.Request)) Assert.Contains($"{says} instead of {truth}", e.Target);
            }
            Assert.Equal(e.Prompt.Split(Platform.Contracts.Chat.PromptMarkers.Image).Length - 1, e.Pictures.Count);
        }
    }
}
