using Platform.Multimodal.World;

namespace Platform.Multimodal.Tests.World;

public sealed class SceneGeneratorTests
{
    [Fact]
    public void Next_SameSeed_SameConversationsAndPixels()
    {
        var a = new SceneGenerator(42);
        var b = new SceneGenerator(42);
        for (int i = 0; i < 200; i++)
        {
            var da = a.Next();
            var db = b.Next();
            Assert.Equal(Flatten(da), Flatten(db));
            foreach (var (ta, tb) in da.Turns.Zip(db.Turns))
                foreach (var (sa, sb) in ta.InputImages.Zip(tb.InputImages))
                    Assert.Equal(SceneRenderer.Render(sa), SceneRenderer.Render(sb));
        }
    }

    [Fact]
    public void Next_DifferentSeeds_DifferentStreams()
    {
        var ga = new SceneGenerator(1);
        var gb = new SceneGenerator(2);
        var sa = string.Join("|", Enumerable.Range(0, 20).Select(_ => Flatten(ga.Next())));
        var sb = string.Join("|", Enumerable.Range(0, 20).Select(_ => Flatten(gb.Next())));
        Assert.NotEqual(sa, sb);
    }

    [Fact]
    public void NextScene_SeenSplit_NeverUsesHeldOutCombination()
    {
        var g = new SceneGenerator(7);
        for (int i = 0; i < 2000; i++)
            Assert.False(g.NextScene().IsHeldOut);
    }

    [Fact]
    public void NextScene_HeldOutSplit_FirstDrawnObjectIsHeldOut()
    {
        var g = new SceneGenerator(7);
        for (int i = 0; i < 500; i++)
            Assert.True(g.NextScene(WorldSplit.HeldOut).IsHeldOut);
    }

    [Fact]
    public void NextScene_TwoObjects_DifferentColoursAndNonAdjacentCells()
    {
        var g = new SceneGenerator(3);
        for (int i = 0; i < 500; i++)
        {
            var s = g.NextScene(objectCount: 2);
            var (o1, o2) = (s.Objects[0], s.Objects[1]);
            Assert.NotEqual(o1.Colour, o2.Colour);
            Assert.True(Math.Max(Math.Abs(o1.Row - o2.Row), Math.Abs(o1.Column - o2.Column)) >= 2);
            Assert.True(o1.Cell < o2.Cell);
        }
    }

    [Fact]
    public void ParseCaption_GeneratedCaption_RoundTripsAttributes()
    {
        var g = new SceneGenerator(5);
        for (int i = 0; i < 100; i++)
        {
            var s = g.NextScene();
            var parsed = WorldText.ParseCaption(s.Caption() + ".");
            Assert.Equal(s.Objects.Count, parsed.Count);
            foreach (var (o, p) in s.Objects.Zip(parsed))
                Assert.Equal((o.SizeName, o.ColourName, o.ShapeName, o.PositionName), (p.Size, p.Colour, p.Shape, p.Position));
        }
    }

    private static string Flatten(WorldDialogue d) => d.Kind + ":" + string.Join("\n", d.Turns.Select(t =>
        $"{t.Role}:{t.Text}:{string.Join(",", t.InputImages.Select(s => s.Caption() + s.JitterX + s.JitterY))}:{t.OutputScene?.Caption()}:{t.Retrieve}"));
}
