using Platform.Multimodal.World;

namespace Platform.Multimodal.Tests.World;

public sealed class PhrasingsTests
{
    private static readonly SceneObject Object = new(2, Shape.Triangle, ObjectSize.Small, 0, 2);

    [Fact]
    public void DrawRequest_SameSeed_SameWords()
    {
        var a = new Random(7);
        var b = new Random(7);
        for (int i = 0; i < 200; i++)
            Assert.Equal(Phrasings.DrawRequest(a, [Object], PhrasingSplit.Seen).Text, Phrasings.DrawRequest(b, [Object], PhrasingSplit.Seen).Text);
    }

    [Theory]
    [InlineData(PhrasingSplit.Seen)]
    [InlineData(PhrasingSplit.HeldOut)]
    [InlineData(PhrasingSplit.Test)]
    public void DrawRequest_EachSplit_OnlyItsOwnHeldOutFeatures(PhrasingSplit split)
    {
        var random = new Random(3);
        var generator = new SceneGenerator(4);
        for (int i = 0; i < 500; i++)
        {
            var scene = generator.NextScene(jitter: false);
            var phrase = Phrasings.DrawRequest(random, scene.Objects, split);
            bool design = Phrasings.Has(phrase.Features, Phrasings.DesignHeldOut), test = Phrasings.Has(phrase.Features, Phrasings.TestHeldOut);
            Assert.Equal((split == PhrasingSplit.HeldOut, split == PhrasingSplit.Test), (design, test));
        }
    }

    [Fact]
    public void HeldOutFeatures_EveryWordOccursInSeenRequests()
    {
        // A held-out phrasing recombines trained words; it never needs a word the model has not read.
        var random = new Random(5);
        var generator = new SceneGenerator(6);
        var seenWords = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < 5000; i++)
            foreach (var w in Phrasings.DrawRequest(random, generator.NextScene(jitter: false).Objects, PhrasingSplit.Seen).Text.Split(' ', ',', '.', '!', '?'))
                seenWords.Add(w);
        foreach (var feature in Phrasings.DesignHeldOut.Concat(Phrasings.TestHeldOut))
            foreach (var w in feature.Split(':', '|', ' ').Where(w => w.Length > 0 && w is not "frame" and not "size" and not "position" and not "suffix"))
                Assert.Contains(w, seenWords);
    }

    [Fact]
    public void PositionWordings_EveryCell_DistinctFromOtherCells()
    {
        var all = Enumerable.Range(0, 9).SelectMany(c => Phrasings.PositionWordings(c / 3, c % 3).Select(w => (w, c))).ToList();
        Assert.Equal(all.Count, all.Select(x => x.w).Distinct().Count());
        Assert.All(Enumerable.Range(0, 9), c => Assert.True(Phrasings.PositionWordings(c / 3, c % 3).Count >= 4));
    }

    [Fact]
    public void Conversations_FollowUpAndTwoPictures_HaveTheirImagesInOrder()
    {
        var g = new SceneGenerator(8);
        for (int i = 0; i < 200; i++)
        {
            var f = g.FollowUp();
            Assert.Equal(4, f.Turns.Count);
            Assert.Single(f.Turns[1].InputImages);
            Assert.False(f.Turns[1].Train);
            var two = g.TwoPictures();
            Assert.Equal(2, two.Turns[1].Outputs.Count);
            Assert.Equal(2, two.Turns[1].Text.Split(WorldText.ImageTokenRun).Length - 1);
            var c = g.Compare();
            Assert.Equal(2, c.Turns[0].InputImages.Count);
            Assert.Equal(2, c.Turns[0].Text.Split(WorldText.ImagePlaceholder).Length - 1);
        }
    }

    [Fact]
    public void SmallTalkAndOutOfWorld_NeverDraw()
    {
        var g = new SceneGenerator(9);
        for (int i = 0; i < 200; i++)
            foreach (var d in new[] { g.SmallTalk(), g.SmallTalk(heldOut: true), g.OutOfWorld(), g.OutOfWorld(heldOut: true) })
                Assert.DoesNotContain(WorldText.ImageTokens[0], d.Turns[1].Text);
    }
    [Fact]
    public void UnknownThing_AnyDraw_RefusesWithoutPictureInASeenWording()
    {
        var g = new SceneGenerator(10);
        string[] shapes = ["circle", "square", "triangle"];
        int coloured = 0, positioned = 0;
        for (int i = 0; i < 500; i++)
        {
            var d = g.UnknownThing();
            Assert.Equal(WorldText.OutOfWorldDrawing, d.Turns[1].Text);
            Assert.Empty(d.Turns[1].Outputs);
            var words = d.Turns[0].Text.ToLowerInvariant().Split([' ', ',', '.', '!', '?'], StringSplitOptions.RemoveEmptyEntries);
            Assert.DoesNotContain(words, w => shapes.Contains(w) || WorldText.OutOfWorldThings[^WorldText.HeldOutTail..].Contains(w));
            foreach (var held in Phrasings.DesignHeldOut.Concat(Phrasings.TestHeldOut).Where(h => h.StartsWith("position:", StringComparison.Ordinal)))
                Assert.DoesNotContain(held["position:".Length..], d.Turns[0].Text.ToLowerInvariant());
            if (words.Any(Palette.Names.Contains)) coloured++;
            if (words.Any(w => w is "top" or "bottom" or "left" or "right" or "middle" or "center" or "centre")) positioned++;
        }
        Assert.InRange(coloured, 250, 450);
        Assert.InRange(positioned, 150, 350);
    }

    [Fact]
    public void Extra_ConsecutiveIndices_UnknownThingTwoPicturesAndEdit()
    {
        var g = new SceneGenerator(12);
        for (int i = 0; i < 30; i++)
        {
            var d = Platform.Multimodal.Training.LanguageModelStage.Extra(g, i);
            switch (i % 3)
            {
                case 0: Assert.Equal("out-of-world", d.Kind); break;
                case 1: Assert.Equal(2, d.Turns[^1].Outputs.Count); break;
                default:
                    Assert.StartsWith("follow-up-", d.Kind);
                    Assert.Single(d.Turns[^1].Outputs);
                    break;
            }
        }
    }
}
