namespace Platform.Multimodal.World;

/// <summary>
/// Made-up nouns from a syllable grammar (onset, vowel, coda; one to three syllables): things outside the world that
/// the language model has never read. Trained only on the few real out-of-world words, the LM took a held-out one
/// ("make a purple penguin") for a shape; with many unknown nouns after every colour and size word it must learn that
/// only "circle", "square" and "triangle" are drawn. Every noun is a world word of no kind and no held-out noun.
/// </summary>
public static class NounGrammar
{
    private static readonly string[] Onsets = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "gl", "kr", "pl", "sn", "tr", "sh", "ch", "fl", "st"];
    private static readonly string[] Vowels = ["a", "e", "i", "o", "u", "oo", "ee", "ai", "ou"];
    private static readonly string[] Codas = ["", "", "", "n", "r", "m", "k", "p", "t", "sh", "x", "lt", "nd"];

    /// <summary>Words a made-up noun must not be: the world's own words and every out-of-world thing of
    /// <see cref="WorldText"/> (the held-out ones included, so they stay out of training).</summary>
    private static readonly HashSet<string> Excluded = new(
        new[] { "circle", "square", "triangle", "circles", "squares", "triangles", "shape", "shapes", "picture", "image", "photo", "one", "two" }
            .Concat(Palette.Names).Concat(Phrasings.SizeWords.SelectMany(w => w))
            .Concat(WorldText.RowNames).Concat(WorldText.ColumnNames).Concat(["upper", "lower", "centre", "side", "corner"])
            .Concat(WorldText.OutOfWorldThings).Concat(WorldText.MoreOutOfWorldThings),
        StringComparer.Ordinal);

    /// <summary>The next made-up noun drawn from <paramref name="random"/> (deterministic per seed).</summary>
    public static string Next(Random random)
    {
        while (true)
        {
            int syllables = 1 + random.Next(3);
            var word = string.Concat(Enumerable.Range(0, syllables).Select(_ =>
                Onsets[random.Next(Onsets.Length)] + Vowels[random.Next(Vowels.Length)] + Codas[random.Next(Codas.Length)]));
            if (word.Length >= 3 && !IsExcluded(word)) return word;
        }
    }

    /// <summary>True for a word no made-up noun may be (a world word or a listed out-of-world thing, or its plural).</summary>
    public static bool IsExcluded(string word) => Excluded.Contains(word) || (word.EndsWith('s') && Excluded.Contains(word[..^1]));
}
