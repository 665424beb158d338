using Platform.Multimodal.World;

namespace Platform.Multimodal.Tests.World;

public sealed class SceneCheckerTests
{
    public static IEnumerable<object[]> AllSingleObjects()
    {
        for (int c = 0; c < Palette.Count; c++)
            foreach (var shape in Enum.GetValues<Shape>())
                foreach (var size in Enum.GetValues<ObjectSize>())
                    for (int cell = 0; cell < 9; cell++)
                        yield return [c, shape, size, cell];
    }

    [Theory]
    [MemberData(nameof(AllSingleObjects))]
    public void Check_EverySingleObjectWithEveryJitter_RecognisesAllAttributes(int colour, Shape shape, ObjectSize size, int cell)
    {
        var o = new SceneObject(colour, shape, size, cell / 3, cell % 3);
        for (int jx = -WorldSpec.MaxJitter; jx <= WorldSpec.MaxJitter; jx++)
            for (int jy = -WorldSpec.MaxJitter; jy <= WorldSpec.MaxJitter; jy++)
            {
                var found = SceneChecker.Check(SceneRenderer.Render(new Scene([o], jx, jy)));
                Assert.Equal([o], found);
            }
    }

    [Fact]
    public void Check_RandomTwoObjectScenes_RecognisesBoth()
    {
        var g = new SceneGenerator(11);
        for (int i = 0; i < 300; i++)
        {
            var s = g.NextScene(objectCount: 2);
            Assert.Equal(s.Objects, SceneChecker.Check(SceneRenderer.Render(s)));
        }
    }

    [Fact]
    public void Check_EmptyBackground_FindsNothing()
    {
        Assert.Empty(SceneChecker.Check(SceneRenderer.Render(new Scene([]))));
    }

    [Fact]
    public void Check_WrongLength_ThrowsNamingSizes()
    {
        var e = Assert.Throws<ArgumentException>(() => SceneChecker.Check(new byte[10]));
        Assert.Contains($"{WorldSpec.ImageSize}x{WorldSpec.ImageSize}", e.Message);
    }

    [Fact]
    public void Check_MildNoise_StillRecognises()
    {
        var o = new SceneObject(4, Shape.Triangle, ObjectSize.Large, 2, 0);
        var rgb = SceneRenderer.Render(new Scene([o]));
        var random = new Random(0);
        for (int i = 0; i < rgb.Length; i++) rgb[i] = (byte)Math.Clamp(rgb[i] + random.Next(-20, 21), 0, 255);
        Assert.Equal([o], SceneChecker.Check(rgb));
    }
}
