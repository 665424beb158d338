using Platform.Multimodal.World;

namespace Platform.Multimodal.Tests.World;

public sealed class NounGrammarTests
{
    [Fact]
    public void Next_ManyDraws_NeverAWorldWordNorAListedThing()
    {
        var random = new Random(3);
        var nouns = Enumerable.Range(0, 5000).Select(_ => NounGrammar.Next(random)).ToList();
        string[] forbidden = ["circle", "square", "triangle", .. Palette.Names, .. WorldText.OutOfWorldThings, .. WorldText.MoreOutOfWorldThings];
        foreach (var noun in nouns)
        {
            Assert.DoesNotContain(noun, forbidden);
            Assert.True(noun.Length >= 3 && noun.All(char.IsAsciiLetterLower), noun);
        }
        // A grammar, not a short list: thousands of distinct nouns.
        Assert.True(nouns.Distinct().Count() > 2500, $"only {nouns.Distinct().Count()} distinct nouns");
    }

    [Fact]
    public void Next_SameSeed_SameNouns()
    {
        var (a, b) = (new Random(11), new Random(11));
        Assert.Equal(Enumerable.Range(0, 50).Select(_ => NounGrammar.Next(a)), Enumerable.Range(0, 50).Select(_ => NounGrammar.Next(b)));
    }

    [Fact]
    public void IsExcluded_WorldWordsAndHeldOutThings_True()
    {
        Assert.True(NounGrammar.IsExcluded("circle"));
        Assert.True(NounGrammar.IsExcluded("squares"));
        Assert.True(NounGrammar.IsExcluded("penguin"));
        Assert.False(NounGrammar.IsExcluded("zorp"));
    }
}
