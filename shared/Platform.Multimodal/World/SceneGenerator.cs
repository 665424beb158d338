namespace Platform.Multimodal.World;

/// <summary>Which colour/shape combinations a generated scene may use.</summary>
public enum WorldSplit
{
    /// <summary>Only combinations outside <see cref="WorldSpec.HeldOut"/> (all training data).</summary>
    Seen,
    /// <summary>The first object is always a design held-out combination (<see cref="WorldSpec.HeldOut"/>).</summary>
    HeldOut,
    /// <summary>The first object is always a test combination (<see cref="WorldSpec.TestPairs"/>): the untouched split.</summary>
    Test,
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
        var first = NextObject(split, null);
        // The centre cell has no non-adjacent neighbour: a two-object scene never starts there.
        while (count == 2 && first.Cell == 4) first = NextObject(split, null);
        var objects = new List<SceneObject> { first };
        if (count == 2) objects.Add(NextObject(WorldSplit.Seen, first, split));
        objects.Sort((a, b) => a.Cell.CompareTo(b.Cell));
        int jx = jitter ? _random.Next(-WorldSpec.MaxJitter, WorldSpec.MaxJitter + 1) : 0;
        int jy = jitter ? _random.Next(-WorldSpec.MaxJitter, WorldSpec.MaxJitter + 1) : 0;
        return new Scene(objects, jx, jy);
    }

    /// <summary>An object of the split's pairs (<paramref name="pairs"/> Seen: any trainable pair); the second object of a
    /// held-out scene (<paramref name="sceneSplit"/>) may also be a pair of that split, never one of the other split.</summary>
    private SceneObject NextObject(WorldSplit pairs, SceneObject? other, WorldSplit sceneSplit = WorldSplit.Seen)
    {
        while (true)
        {
            int colour;
            Shape shape;
            if (pairs != WorldSplit.Seen)
            {
                var list = pairs == WorldSplit.HeldOut ? WorldSpec.HeldOut : WorldSpec.TestPairs;
                (colour, shape) = list[_random.Next(list.Length)];
            }
            else
            {
                colour = _random.Next(Palette.Count);
                shape = (Shape)_random.Next(3);
                bool allowed = !WorldSpec.IsHeldOut(colour, shape)
                    || (sceneSplit == WorldSplit.HeldOut && WorldSpec.IsDesignPair(colour, shape))
                    || (sceneSplit == WorldSplit.Test && WorldSpec.IsTestPair(colour, shape));
                if (!allowed) continue;
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

    // ---- The conversational stream: paraphrased requests, images anywhere in a turn, several images in a turn or
    // an answer, follow-ups on an earlier picture, small talk and requests outside the world. ----

    /// <summary>The answer that draws <paramref name="scene"/>: it names the scene, then the [IMG] run.</summary>
    public static WorldTurn Drawn(Scene scene) => new("assistant", $"here is {scene.Caption()}. {WorldText.ImageTokenRun}", [], scene);

    /// <summary>An earlier drawing as it comes back in the history: the gateway turns the picture (an image part, or the
    /// markdown link of a plain client) back into the image, so the model reads its visual tokens.</summary>
    public static WorldTurn DrawnInHistory(Scene scene) =>
        new("assistant", $"here is {scene.Caption()}. {WorldText.ImagePlaceholder}", [scene], Train: false);

    /// <summary>A drawing request in the paraphrase grammar (<see cref="Phrasings"/>).</summary>
    public WorldDialogue Request(WorldSplit split = WorldSplit.Seen, PhrasingSplit phrasing = PhrasingSplit.Seen)
    {
        var scene = NextScene(split, jitter: false);
        var phrase = Phrasings.DrawRequest(_random, scene.Objects, phrasing);
        return new("request", [new("user", phrase.Text, []), Drawn(scene)]);
    }

    private static readonly string[] ThenJoiners = [" and then ", ", then ", " and after that ", " followed by ", " and next "];

    /// <summary>"draw a red circle and then a blue square": one answer with two pictures (text, image, text, image).</summary>
    public WorldDialogue TwoPictures(WorldSplit split = WorldSplit.Seen, PhrasingSplit phrasing = PhrasingSplit.Seen)
    {
        var a = NextScene(split, jitter: false, objectCount: 1);
        Scene b;
        do b = NextScene(jitter: false, objectCount: 1); while (b.Objects[0] == a.Objects[0]);
        var phrase = Phrasings.DrawRequest(_random, [a.Objects[0], b.Objects[0]], phrasing, Pick(ThenJoiners));
        var answer = $"here is {a.Caption()}. {WorldText.ImageTokenRun} and here is {b.Caption()}. {WorldText.ImageTokenRun}";
        return new("two-pictures", [new("user", phrase.Text, []), new("assistant", answer, [], OutputScenes: [a, b])]);
    }

    private static readonly string[] DescribeWordings =
    [
        "describe the image.", "what is in this picture?", "caption this image.", "describe the image, please.", "what do you see?",
        "what's in the picture?", "tell me what is in this image.", "Describe this picture.", "What is in the image?",
    ];
    private static readonly string[] Leads = ["", "look at this: ", "here is a picture. ", "I have a picture: "];

    /// <summary>Places the image before, after or between the words of a prompt.</summary>
    private string WithImage(string prompt)
    {
        return _random.Next(4) switch
        {
            0 or 1 => $"{WorldText.ImagePlaceholder} {prompt}",
            2 => $"{prompt} {WorldText.ImagePlaceholder}",
            _ => $"{Pick(Leads[1..])}{WorldText.ImagePlaceholder} {prompt}",
        };
    }

    /// <summary>A caption or a question about one picture, the picture anywhere in the turn, in varied words.</summary>
    public WorldDialogue Look(WorldSplit split = WorldSplit.Seen)
    {
        var scene = NextScene(split);
        var target = Pick(scene.Objects);
        bool single = scene.Objects.Count == 1;
        string colourWord = _random.Next(2) == 0 ? "colour" : "color";
        (string q, string a) = _random.Next(single ? 8 : 5) switch
        {
            0 or 1 => (Pick(DescribeWordings), scene.Caption() + "."),
            2 => (single || scene.Objects[0].Shape != scene.Objects[1].Shape
                    ? $"what {colourWord} is the {target.ShapeName}?" : $"what {colourWord} is the {target.ShapeName} {Phrasings.PositionWordings(target.Row, target.Column)[0]}?",
                $"{target.ColourName}."),
            3 => ($"where is the {target.ColourName} {target.ShapeName}?", $"at the {target.PositionName}."),
            4 => (Pick(new[] { "how many objects are there?", "how many shapes are there?", "how many shapes do you see?" }), single ? "one." : "two."),
            5 => (Pick(new[] { $"what {colourWord} is it?", $"what {colourWord} is the shape?", "which colour is it?" }), $"{target.ColourName}."),
            6 => (Pick(new[] { "what shape is it?", "which shape is this?", "what shape do you see?" }), $"a {target.ShapeName}."),
            _ => (Pick(new[] { "where is the shape?", "where is it?", "where is the object?" }), $"at the {target.PositionName}."),
        };
        if (_random.Next(2) == 0) q = char.ToUpperInvariant(q[0]) + q[1..];
        return new("look", [new("user", WithImage(q), [scene]), new("assistant", a, [])]);
    }

    /// <summary>Two pictures in one user turn: which is a colour, same shape, same colour, describe both.</summary>
    public WorldDialogue Compare(WorldSplit split = WorldSplit.Seen)
    {
        var first = NextScene(split, objectCount: 1);
        var second = NextScene(objectCount: 1);
        if (_random.Next(2) == 0) (first, second) = (second, first);
        var (a, b) = (first.Objects[0], second.Objects[0]);
        string q, answer;
        switch (_random.Next(4))
        {
            case 0:
            {
                int colour = _random.Next(3) switch { 0 => a.Colour, 1 => b.Colour, _ => _random.Next(Palette.Count) };
                q = $"which of these two is {Palette.Names[colour]}?";
                answer = a.Colour == colour && b.Colour == colour ? "both." : a.Colour == colour ? "the first." : b.Colour == colour ? "the second." : "neither.";
                break;
            }
            case 1:
                q = Pick(new[] { "are these the same shape?", "do they have the same shape?" });
                answer = a.Shape == b.Shape ? $"yes, both are {a.ShapeName}s." : $"no, the first is a {a.ShapeName} and the second is a {b.ShapeName}.";
                break;
            case 2:
                q = Pick(new[] { "are these the same colour?", "are they the same color?" });
                answer = a.Colour == b.Colour ? $"yes, both are {a.ColourName}." : $"no, the first is {a.ColourName} and the second is {b.ColourName}.";
                break;
            default:
                q = Pick(new[] { "describe both images.", "what is in these two pictures?" });
                answer = $"the first: {first.Caption()}. the second: {second.Caption()}.";
                break;
        }
        var img = WorldText.ImagePlaceholder;
        var text = _random.Next(3) switch { 0 => $"{img} {img} {q}", 1 => $"{q} {img} {img}", _ => $"{img} and {img}: {q}" };
        return new("compare", [new("user", text, [first, second]), new("assistant", answer, [])]);
    }

    /// <summary>Kinds of follow-up on an earlier picture.</summary>
    public enum FollowUpKind { Colour, Position, Size, Shape, AskColour, AskShape, AskPosition, AskSize }

    /// <summary>A drawing, then a follow-up that refers to it ("now make it green", "what colour was it?"). On a held-out
    /// split the picture after the edit (or the asked-about one) has the split's pair.</summary>
    public WorldDialogue FollowUp(WorldSplit split = WorldSplit.Seen, PhrasingSplit phrasing = PhrasingSplit.Seen, FollowUpKind? kind = null)
    {
        var after = NextScene(split, jitter: false, objectCount: 1);
        var o = after.Objects[0];
        var k = kind ?? (FollowUpKind)_random.Next(8);
        SceneObject before = o;
        string edit;
        switch (k)
        {
            case FollowUpKind.Colour:
            {
                int c;
                do c = _random.Next(Palette.Count); while (c == o.Colour || WorldSpec.IsHeldOut(c, o.Shape));
                before = o with { Colour = c };
                edit = string.Format(System.Globalization.CultureInfo.InvariantCulture,
                    Pick(new[] { "now make it {0}", "make it {0}", "change the colour to {0}", "same but {0}", "now in {0}", "can you make it {0}", "make it {0} instead" }), o.ColourName);
                break;
            }
            case FollowUpKind.Shape:
            {
                Shape shape;
                do shape = (Shape)_random.Next(3); while (shape == o.Shape || WorldSpec.IsHeldOut(o.Colour, shape));
                before = o with { Shape = shape };
                edit = string.Format(System.Globalization.CultureInfo.InvariantCulture,
                    Pick(new[] { "make it a {0}", "now a {0} instead", "change it to a {0}", "turn it into a {0}" }), o.ShapeName);
                break;
            }
            case FollowUpKind.Position:
            {
                int cell;
                do cell = _random.Next(9); while (cell == o.Cell);
                before = o with { Row = cell / 3, Column = cell % 3 };
                var wording = Pick(Phrasings.PositionWordings(o.Row, o.Column));
                var to = "to the " + wording[(wording.IndexOf("the ", StringComparison.Ordinal) + 4)..];
                edit = Pick(new[] { $"move it {to}", $"now move it {to}", $"put it {wording} instead", $"move it {to} please" });
                break;
            }
            case FollowUpKind.Size:
                before = o with { Size = o.Size == ObjectSize.Small ? ObjectSize.Large : ObjectSize.Small };
                edit = o.Size == ObjectSize.Large
                    ? Pick(new[] { "make it bigger", "make it larger", "now make it big", "bigger please", "make it huge" })
                    : Pick(new[] { "make it smaller", "make it tiny", "now make it small", "smaller please", "make it little" });
                break;
            default:
                edit = k switch
                {
                    FollowUpKind.AskColour => Pick(new[] { "what colour was it?", "what color was it?", "which colour did you use?" }),
                    FollowUpKind.AskShape => Pick(new[] { "what shape was it?", "what shape did you draw?" }),
                    FollowUpKind.AskPosition => Pick(new[] { "where was it?", "where did you put it?" }),
                    _ => Pick(new[] { "how big was it?", "was it small or large?" }),
                };
                break;
        }
        var beforeScene = new Scene([before]);
        var request = Phrasings.DrawRequest(_random, [before], k >= FollowUpKind.AskColour ? phrasing : PhrasingSplit.Seen);
        if (_random.Next(2) == 0) edit = char.ToUpperInvariant(edit[0]) + edit[1..];
        if (k < FollowUpKind.AskColour && _random.Next(3) == 0) edit += ".";
        WorldTurn answer = k switch
        {
            FollowUpKind.AskColour => new("assistant", $"{o.ColourName}.", []),
            FollowUpKind.AskShape => new("assistant", $"a {o.ShapeName}.", []),
            FollowUpKind.AskPosition => new("assistant", $"at the {o.PositionName}.", []),
            FollowUpKind.AskSize => new("assistant", $"{o.SizeName}.", []),
            _ => Drawn(after),
        };
        return new($"follow-up-{k.ToString().ToLowerInvariant()}", [new("user", request.Text, []), DrawnInHistory(beforeScene), new("user", edit, []), answer]);
    }

    /// <summary>Small talk (greetings, who are you, what can you do, thanks): a short true answer, never a picture.
    /// <paramref name="heldOut"/> picks from the held-out prompts (the last of each list) instead of the trained ones.</summary>
    public WorldDialogue SmallTalk(bool heldOut = false)
    {
        var (prompts, answer) = Pick(WorldText.SmallTalk);
        var prompt = heldOut ? prompts[^1] : Pick(prompts[..^1]);
        if (_random.Next(2) == 0) prompt = char.ToUpperInvariant(prompt[0]) + prompt[1..];
        if (!prompt.EndsWith('?') && !prompt.EndsWith('!') && _random.Next(2) == 0) prompt += Pick(new[] { "!", "." });
        return new("small-talk", [new("user", prompt, []), new("assistant", answer, [])]);
    }

    /// <summary>A request outside the world ("draw a dog", "write a poem"): it says what it can draw, never a picture.</summary>
    public WorldDialogue OutOfWorld(bool heldOut = false)
    {
        if (_random.Next(3) == 0)
        {
            var questions = WorldText.OutOfWorldQuestions;
            var q = heldOut ? Pick(questions[^WorldText.HeldOutTail..]) : Pick(questions[..^WorldText.HeldOutTail]);
            var text = _random.Next(2) == 0 ? char.ToUpperInvariant(q[0]) + q[1..] : q;
            return new("out-of-world", [new("user", text, []), new("assistant", WorldText.OutOfWorldQuestion, [])]);
        }
        var things = WorldText.OutOfWorldThings;
        var thing = heldOut ? Pick(things[^WorldText.HeldOutTail..]) : Pick(things[..^WorldText.HeldOutTail]);
        var adjective = _random.Next(3) switch { 0 => "", 1 => Pick(Phrasings.SizeWords[_random.Next(2)]) + " ", _ => Palette.Names[_random.Next(Palette.Count)] + " " };
        var article = (adjective.Length > 0 ? adjective : thing)[0] is 'a' or 'e' or 'i' or 'o' or 'u' ? "an" : "a";
        var phrase = Phrasings.Frame(_random, $"{article} {adjective}{thing}", []);
        return new("out-of-world", [new("user", phrase.Text, []), new("assistant", WorldText.OutOfWorldDrawing, [])]);
    }

    /// <summary>A drawing request for something outside the world, answered with what it can draw: a made-up noun
    /// (<see cref="NounGrammar"/>) or a real one (<see cref="WorldText.MoreOutOfWorldThings"/>), never a held-out one,
    /// after any size word and colour (or both, or none), half of the time with a position wording, in a seen frame
    /// (<see cref="PhrasingSplit.Seen"/>).</summary>
    public WorldDialogue UnknownThing()
    {
        var thing = _random.Next(3) == 0 ? Pick(WorldText.MoreOutOfWorldThings) : NounGrammar.Next(_random);
        var size = _random.Next(3) == 2 ? "" : Pick(Phrasings.SizeWords[_random.Next(2)]) + " ";
        var colour = _random.Next(3) == 2 ? "" : Palette.Names[_random.Next(Palette.Count)] + " ";
        var adjectives = size + colour;
        var article = (adjectives.Length > 0 ? adjectives : thing)[0] is 'a' or 'e' or 'i' or 'o' or 'u' ? "an" : "a";
        bool placed = _random.Next(2) == 1;
        Phrase phrase;
        do
        {
            // The position is drawn again with the frame: a held-out position wording alone never fits the seen split.
            var position = placed ? " " + Pick(Phrasings.PositionWordings(_random.Next(3), _random.Next(3))) : "";
            phrase = Phrasings.Frame(_random, $"{article} {adjectives}{thing}{position}", placed ? [$"position:{position.Trim()}"] : []);
        }
        while (!Phrasings.Fits(phrase.Features, PhrasingSplit.Seen));
        return new("out-of-world", [new("user", phrase.Text, []), new("assistant", WorldText.OutOfWorldDrawing, [])]);
    }

    /// <summary>A follow-up that edits the earlier drawing (colour, position, size or shape; never a question).</summary>
    public WorldDialogue FollowUpEdit(WorldSplit split = WorldSplit.Seen) => FollowUp(split, kind: (FollowUpKind)_random.Next(4));

    /// <summary>The language model's training stream of the conversational family, in fixed proportions (seen pairs
    /// and seen phrasings only).</summary>
    public WorldDialogue NextConversation() => _random.Next(20) switch
    {
        0 or 1 => Caption(),
        2 or 3 or 4 or 5 => Request(),
        6 => Instruction(),
        7 => Retrieval(),
        8 or 9 or 10 => Look(),
        11 => Compare(),
        12 or 13 or 14 => FollowUp(),
        15 => TwoPictures(),
        16 => SmallTalk(),
        17 => OutOfWorld(),
        18 => Question(),
        _ => Dialogue(),
    };
}
