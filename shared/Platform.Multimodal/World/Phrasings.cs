namespace Platform.Multimodal.World;

/// <summary>Which wordings a generated request may use.</summary>
public enum PhrasingSplit
{
    /// <summary>Only wordings without a held-out feature (all training text).</summary>
    Seen,
    /// <summary>At least one feature of <see cref="Phrasings.DesignHeldOut"/> (the split watched while designing).</summary>
    HeldOut,
    /// <summary>At least one feature of <see cref="Phrasings.TestHeldOut"/> (untouched; the published figures).</summary>
    Test,
}

/// <summary>A user's request in words, with the features (frame, size word with its shape, position wording)
/// that decide which split it belongs to.</summary>
public sealed record Phrase(string Text, IReadOnlyList<string> Features);

/// <summary>
/// The paraphrase grammar of drawing requests: frames (verbs with politeness prefixes and suffixes, "I want ...",
/// "I'd like ..."), size synonyms, position wordings people use ("on the left side", "in the upper right corner",
/// "at the bottom"), fillers, capitals and punctuation. Every word of a held-out phrasing also occurs in training;
/// what is held out is a combination (a prefix with a verb, a size word with a shape, a position wording for one
/// cell), so the split measures unseen wording, not unknown words.
/// </summary>
public static class Phrasings
{
    public static readonly string[] Prefixes = ["", "please ", "can you ", "could you ", "would you ", "I'd like you to ", "I want you to "];
    public static readonly string[] Verbs =
    [
        "draw", "draw me", "paint", "paint me", "sketch", "make", "make a picture of", "make an image of", "create",
        "create a picture of", "create an image of", "generate", "generate an image of", "generate a picture of",
    ];
    /// <summary>Frames that are not a verb phrase ({0} is the object).</summary>
    public static readonly string[] Frames = ["I want {0}", "I'd like {0}", "I would like a picture of {0}", "give me {0}", "{0}, please", "a picture of {0}"];
    public static readonly string[] Suffixes = ["", " please", " for me", " for me please"];
    public static readonly string[] Fillers = ["", "", "", "ok, ", "hey, ", "so ", "alright, ", "um, "];
    public static readonly string[] Endings = [".", ".", "!", "?", ""];

    public static readonly string[][] SizeWords = [["small", "tiny", "little"], ["large", "big", "huge"]];

    /// <summary>Held out while designing (their figures were watched).</summary>
    public static readonly string[] DesignHeldOut =
    [
        "frame:could you sketch", "frame:please generate a picture of", "frame:give me|suffix: please",
        "size:tiny square", "size:huge circle",
        "position:in the lower right corner", "position:on the right side", "position:in the centre", "position:at the upper left",
    ];

    /// <summary>Held out for the published figures only.</summary>
    public static readonly string[] TestHeldOut =
    [
        "frame:would you paint", "frame:can you create an image of", "frame:I want you to draw",
        "size:little triangle", "size:big square",
        "position:in the lower left corner", "position:in the middle of the picture", "position:at the upper right",
    ];

    /// <summary>Every wording of a cell, as people say it. Corners: "at the top left", "in the upper right corner";
    /// edges: "on the left side", "at the bottom"; the centre: "in the middle".</summary>
    public static IReadOnlyList<string> PositionWordings(int row, int column)
    {
        var rows = row switch { 0 => new[] { "top", "upper" }, 1 => ["middle"], _ => ["bottom", "lower"] };
        var columns = column switch { 0 => new[] { "left" }, 1 => ["center", "centre", "middle"], _ => ["right"] };
        var result = new List<string>();
        foreach (var r in rows)
            foreach (var c in columns)
            {
                if (r == "middle" && c == "middle") continue;
                result.Add($"at the {r} {c}");
                result.Add($"in the {r} {c}");
                if (row != 1 && column != 1) result.Add($"in the {r} {c} corner");
            }
        if (row == 1 && column != 1)
        {
            var side = WorldText.ColumnNames[column];
            result.AddRange([$"on the {side}", $"on the {side} side", $"at the {side}"]);
        }
        if (row != 1 && column == 1)
        {
            var edge = WorldText.RowNames[row];
            result.AddRange([$"at the {edge}", $"along the {edge}"]);
        }
        if (row == 1 && column == 1) result.AddRange(["in the middle", "in the center", "in the centre", "in the middle of the picture"]);
        return result;
    }

    /// <summary>The held-out features of a feature list that belong to a split.</summary>
    public static bool Has(IReadOnlyList<string> features, string[] heldOut) =>
        heldOut.Any(h => h.Contains('|') ? h.Split('|').All(features.Contains) : features.Contains(h));

    public static bool Fits(IReadOnlyList<string> features, PhrasingSplit split) => split switch
    {
        PhrasingSplit.Seen => !Has(features, DesignHeldOut) && !Has(features, TestHeldOut),
        PhrasingSplit.HeldOut => Has(features, DesignHeldOut) && !Has(features, TestHeldOut),
        _ => Has(features, TestHeldOut) && !Has(features, DesignHeldOut),
    };

    /// <summary>One object in words: "a tiny red circle on the left side" (size word, colour, shape, position).</summary>
    public static Phrase Object(Random random, SceneObject o)
    {
        var sizeWord = Pick(random, SizeWords[(int)o.Size]);
        var position = Pick(random, PositionWordings(o.Row, o.Column));
        return new($"a {sizeWord} {o.ColourName} {o.ShapeName} {position}", [$"size:{sizeWord} {o.ShapeName}", $"position:{position}"]);
    }

    /// <summary>A drawing request for the objects (one picture), in the split's wording.</summary>
    public static Phrase DrawRequest(Random random, IReadOnlyList<SceneObject> objects, PhrasingSplit split, string joiner = " and ")
    {
        while (true)
        {
            var parts = objects.Select(o => Object(random, o)).ToList();
            var phrase = Frame(random, string.Join(joiner, parts.Select(p => p.Text)), parts.SelectMany(p => p.Features));
            if (Fits(phrase.Features, split)) return phrase;
        }
    }

    /// <summary>A request wrapped in a frame with filler, capitals and punctuation.</summary>
    public static Phrase Frame(Random random, string body, IEnumerable<string> bodyFeatures)
    {
        var features = bodyFeatures.ToList();
        string text;
        if (random.Next(4) == 0)
        {
            var frame = Pick(random, Frames);
            var suffix = frame.EndsWith("please", StringComparison.Ordinal) ? "" : Pick(random, Suffixes);
            text = string.Format(System.Globalization.CultureInfo.InvariantCulture, frame, body) + suffix;
            features.Add($"frame:{frame.Replace(" {0}", "", StringComparison.Ordinal).Replace("{0}", "", StringComparison.Ordinal).Trim()}");
            features.Add($"suffix:{suffix}");
        }
        else
        {
            var prefix = Pick(random, Prefixes);
            var verb = Pick(random, Verbs);
            var suffix = Pick(random, Suffixes);
            text = $"{prefix}{verb} {body}{suffix}";
            features.Add($"frame:{prefix}{verb}");
            features.Add($"suffix:{suffix}");
        }
        return new(Decorate(random, text), features);
    }

    /// <summary>Filler in front, a capital first letter half of the time, and an ending.</summary>
    public static string Decorate(Random random, string text)
    {
        text = Pick(random, Fillers) + text + Pick(random, Endings);
        return random.Next(2) == 0 ? char.ToUpperInvariant(text[0]) + text[1..] : text;
    }

    private static T Pick<T>(Random random, IReadOnlyList<T> items) => items[random.Next(items.Count)];
}
