namespace Platform.Multimodal.World;

/// <summary>Which colour/shape combinations a generated scene may use.</summary>
public enum WorldSplit
{
    /// <summary>Only combinations outside <see cref="WorldSpec.HeldOut"/> (all training data).</summary>
    Seen,
    /// <summary>The first object is always a held-out combination (evaluation of composition).</summary>
    HeldOut,
}

/// <summary>
/// Deterministic, seeded generator of scenes and conversations. The same seed gives the same sequence on every
/// machine: System.Random with an explicit seed uses a fixed algorithm (documented as stable for seeded use).
/// </summary>
public sealed class SceneGenerator(int seed, double twoObjectProbability = 0.3)
{
    private readonly Random _random = new(seed);

    public Scene NextScene(WorldSplit split = WorldSplit.Seen, bool jitter = true, int? objectCount = null)
    {
        int count = objectCount ?? (_random.NextDouble() < twoObjectProbability ? 2 : 1);
        if (count is < 1 or > WorldSpec.MaxObjects) throw new ArgumentOutOfRangeException(nameof(objectCount), count, "a scene has one or two objects");
        var first = NextObject(split == WorldSplit.HeldOut, null);
        // The centre cell has no non-adjacent neighbour: a two-object scene never starts there.
        while (count == 2 && first.Cell == 4) first = NextObject(split == WorldSplit.HeldOut, null);
        var objects = new List<SceneObject> { first };
        if (count == 2) objects.Add(NextObject(false, first, split == WorldSplit.HeldOut));
        objects.Sort((a, b) => a.Cell.CompareTo(b.Cell));
        int jx = jitter ? _random.Next(-WorldSpec.MaxJitter, WorldSpec.MaxJitter + 1) : 0;
        int jy = jitter ? _random.Next(-WorldSpec.MaxJitter, WorldSpec.MaxJitter + 1) : 0;
        return new Scene(objects, jx, jy);
    }

    private SceneObject NextObject(bool heldOut, SceneObject? other, bool anyCombination = false)
    {
        while (true)
        {
            int colour;
            Shape shape;
            if (heldOut)
            {
                var combo = WorldSpec.HeldOut[_random.Next(WorldSpec.HeldOut.Length)];
                (colour, shape) = combo;
            }
            else
            {
                colour = _random.Next(Palette.Count);
                shape = (Shape)_random.Next(3);
                if (!anyCombination && WorldSpec.IsHeldOut(colour, shape)) continue;
            }
            var size = (ObjectSize)_random.Next(2);
            int row = _random.Next(3), column = _random.Next(3);
            if (other is not null)
            {
                // Different colours and non-adjacent cells keep the objects apart for the pixel checker.
                if (colour == other.Colour) continue;
                if (Math.Max(Math.Abs(row - other.Row), Math.Abs(column - other.Column)) < 2) continue;
            }
            return new SceneObject(colour, shape, size, row, column);
        }
    }

    private T Pick<T>(IReadOnlyList<T> items) => items[_random.Next(items.Count)];

    public WorldDialogue Caption(WorldSplit split = WorldSplit.Seen)
    {
        var scene = NextScene(split);
        return new("caption", [
            new("user", $"{WorldText.ImagePlaceholder} {Pick(WorldText.DescribePrompts)}", [scene]),
            new("assistant", scene.Caption() + ".", []),
        ]);
    }

    public WorldDialogue Instruction(WorldSplit split = WorldSplit.Seen)
    {
        var scene = NextScene(split, jitter: false);
        return new("instruction", [
            new("user", $"{Pick(WorldText.DrawVerbs)} {scene.Caption()}.", []),
            new("assistant", $"here is {scene.Caption()}. {WorldText.ImageTokenRun}", [], scene, Retrieve: false),
        ]);
    }

    public WorldDialogue Retrieval(WorldSplit split = WorldSplit.Seen)
    {
        var scene = NextScene(split, jitter: false, objectCount: 1);
        return new("retrieval", [
            new("user", $"{Pick(WorldText.RetrieveVerbs)} {scene.Caption()}.", []),
            new("assistant", $"this is the picture of {scene.Caption()}. {WorldText.ImageTokenRun}", [], scene, Retrieve: true),
        ]);
    }

    public WorldDialogue Question(WorldSplit split = WorldSplit.Seen)
    {
        var scene = NextScene(split);
        var target = Pick(scene.Objects);
        (string q, string a) = _random.Next(4) switch
        {
            0 => ($"what colour is the {target.ShapeName}?", $"{target.ColourName}."),
            1 => ($"what shape is at the {target.PositionName}?", $"a {target.ShapeName}."),
            2 => ($"where is the {target.ColourName} {target.ShapeName}?", $"at the {target.PositionName}."),
            _ => ("how many objects are there?", scene.Objects.Count == 1 ? "one." : "two."),
        };
        if (scene.Objects.Count == 2 && scene.Objects[0].Shape == scene.Objects[1].Shape && q.StartsWith("what colour", StringComparison.Ordinal))
            (q, a) = ($"what colour is the {target.ShapeName} at the {target.PositionName}?", $"{target.ColourName}.");
        return new("question", [new("user", $"{WorldText.ImagePlaceholder} {q}", [scene]), new("assistant", a, [])]);
    }

    /// <summary>An interleaved conversation: an input image is described, then a drawing is asked for and made.</summary>
    public WorldDialogue Dialogue(WorldSplit split = WorldSplit.Seen)
    {
        var seen = Caption(split).Turns;
        var draw = Instruction(split).Turns;
        var ask = Question(split).Turns;
        var turns = new List<WorldTurn>();
        turns.AddRange(seen);
        turns.AddRange(_random.Next(2) == 0 ? draw : ask);
        turns.AddRange(_random.Next(2) == 0 ? ask : draw);
        return new("dialogue", turns);
    }

    /// <summary>A mixture of all kinds in fixed proportions (the language model's training stream).</summary>
    public WorldDialogue Next(WorldSplit split = WorldSplit.Seen) => _random.Next(10) switch
    {
        0 or 1 or 2 => Caption(split),
        3 or 4 => Instruction(split),
        5 or 6 => Retrieval(split),
        7 or 8 => Question(split),
        _ => Dialogue(split),
    };
}
