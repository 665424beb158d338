using Platform.Judging;
using Platform.Multimodal.World;

namespace Platform.Train.Judge;

/// <summary>The four attributes a description of one object names.</summary>
public sealed record Description(ObjectSize Size, int Colour, Shape Shape, int Row, int Column)
{
    public static Description Of(SceneObject o) => new(o.Size, o.Colour, o.Shape, o.Row, o.Column);
    public string SizeName => Size == ObjectSize.Small ? "small" : "large";
    public string ColourName => Palette.Names[Colour];
    public string ShapeName => WorldText.ShapeName(Shape);
    public string PositionName => WorldText.PositionName(Row, Column);
    public string Text => $"a {SizeName} {ColourName} {ShapeName} at the {PositionName}";
    public bool NamesHeldOut => WorldSpec.IsHeldOut(Colour, Shape);

    /// <summary>The attributes this description gets wrong against the request, as (what it says, what the request says).</summary>
    public List<(string Says, string Truth)> Errors(Description truth)
    {
        var e = new List<(string, string)>();
        if (Size != truth.Size) e.Add((SizeName, truth.SizeName));
        if (Colour != truth.Colour) e.Add((ColourName, truth.ColourName));
        if (Shape != truth.Shape) e.Add((ShapeName, truth.ShapeName));
        if (Row != truth.Row || Column != truth.Column) e.Add((PositionName, truth.PositionName));
        return e;
    }

    public int Right(Description truth) => 4 - Errors(truth).Count;
}

/// <summary>One judgement with its ground truth: the prompt the judge service renders and the answer the world knows.</summary>
public sealed record JudgeExample(string Kind, string Prompt, string Target, int? Rating, int? Winner, Description Request, IReadOnlyList<Description> Responses);

/// <summary>
/// Judge data from the demo world's ground truth: a drawing request names one object; a response describes what was
/// drawn, with 0 to 4 of its attributes (size, colour, shape, position) misnamed. The rating follows how many are
/// right, the better of two responses is the one with more right (a tie when equal), and the critique names each
/// wrong attribute ("Response 2 says blue; the request says red."). Prompts are the Judge service's own:
/// Auto-J's single and pairwise protocols and the set protocol.
/// </summary>
public sealed class JudgeWorld(int seed, WorldSplit split)
{
    private readonly SceneGenerator _scenes = new(seed);
    private readonly Random _random = new(seed + 101);

    /// <summary>Rating 1..10 from attributes right (0..4): strictly increasing, 10 only when all are right.</summary>
    public static readonly int[] RatingByRight = [1, 3, 5, 8, 10];

    public JudgeExample Next()
    {
        int k = _random.Next(10);
        return k < 3 ? Single() : k < 6 ? Ordered() : Set();
    }

    public (string Query, Description Truth) Request()
    {
        var obj = _scenes.NextScene(split, jitter: false, objectCount: 1).Objects[0];
        var verb = WorldText.DrawVerbs[_random.Next(WorldText.DrawVerbs.Length)];
        var truth = Description.Of(obj);
        return ($"{verb} {truth.Text}.", truth);
    }

    /// <summary>A description with <paramref name="wrong"/> attributes misnamed (in the Seen split, never a held-out pair).</summary>
    public Description Corrupt(Description truth, int wrong)
    {
        while (true)
        {
            var attrs = new[] { 0, 1, 2, 3 }.OrderBy(_ => _random.Next()).Take(wrong).ToHashSet();
            var d = truth;
            if (attrs.Contains(0)) d = d with { Size = d.Size == ObjectSize.Small ? ObjectSize.Large : ObjectSize.Small };
            if (attrs.Contains(1)) d = d with { Colour = (d.Colour + 1 + _random.Next(Palette.Count - 1)) % Palette.Count };
            if (attrs.Contains(2)) d = d with { Shape = (Shape)(((int)d.Shape + 1 + _random.Next(2)) % 3) };
            if (attrs.Contains(3))
            {
                int cell = truth.Row * 3 + truth.Column, other = (cell + 1 + _random.Next(8)) % 9;
                d = d with { Row = other / 3, Column = other % 3 };
            }
            if (split == WorldSplit.Seen && d.NamesHeldOut) continue;
            return d;
        }
    }

    /// <summary>Errors skewed towards one or two: most real mistakes are small.</summary>
    private int WrongCount() => _random.Next(10) switch { < 3 => 0, < 6 => 1, < 8 => 2, < 9 => 3, _ => 4 };

    public static string Critique(string who, Description response, Description truth)
    {
        var errors = response.Errors(truth);
        return errors.Count == 0
            ? $"{who} matches the request."
            : string.Join(" ", errors.Select(e => $"{who} says {e.Says}; the request says {e.Truth}."));
    }

    public JudgeExample Single()
    {
        var (query, truth) = Request();
        var r = Corrupt(truth, WrongCount());
        int rating = RatingByRight[r.Right(truth)];
        var target = $"{Critique("The response", r, truth)} Rating: [[{rating}]]";
        return new JudgeExample("single", AutoJPrompts.RenderSingle(query, r.Text), target, rating, null, truth, [r]);
    }

    private (string Query, Description Truth, Description A, Description B) Pair()
    {
        var (query, truth) = Request();
        var a = Corrupt(truth, WrongCount());
        // A quarter of pairs are ties (equally right, possibly both fully right); the rest differ.
        var b = _random.Next(4) == 0 ? Corrupt(truth, 4 - a.Right(truth)) : Corrupt(truth, WrongCount());
        while (a == b && a.Right(truth) < 4) b = Corrupt(truth, 4 - a.Right(truth));
        return (query, truth, a, b);
    }

    private static int WinnerOf(Description a, Description b, Description truth) =>
        a.Right(truth) > b.Right(truth) ? 0 : a.Right(truth) < b.Right(truth) ? 1 : -1;

    public JudgeExample Ordered()
    {
        var (query, truth, a, b) = Pair();
        int w = WinnerOf(a, b, truth);
        var verdict = w switch { 0 => "Response 1", 1 => "Response 2", _ => "Tie" };
        var target = $"{Critique("Response 1", a, truth)} {Critique("Response 2", b, truth)} So, the final decision is {verdict}";
        return new JudgeExample("ordered", AutoJPrompts.RenderPairwise(query, a.Text, b.Text), target, null, w, truth, [a, b]);
    }

    public JudgeExample Set()
    {
        var (query, truth, a, b) = Pair();
        bool focusFirst = _random.Next(2) == 0;
        var (focus, other) = focusFirst ? (a, b) : (b, a);
        int w = WinnerOf(focus, other, truth);
        var verdict = w switch { 0 => "Better", 1 => "Worse", _ => "Tie" };
        var target = $"{Critique("The focus response", focus, truth)} {Critique("The other response", other, truth)} So, the final decision is {verdict}";
        return new JudgeExample("set", SetProtocol.Render(query, [a.Text, b.Text], focus.Text), target, null, w, truth, [focus, other]);
    }

    /// <summary>A pair for evaluation: the request, two responses and the ground-truth label (0, 1 or -1 for a tie).</summary>
    public (string Query, Description Truth, Description A, Description B, int Label) EvalPair()
    {
        var (query, truth, a, b) = Pair();
        return (query, truth, a, b, WinnerOf(a, b, truth));
    }

    /// <summary>A response to rate for evaluation with its attributes right.</summary>
    public (string Query, Description Truth, Description Response, int Right) EvalSingle()
    {
        var (query, truth) = Request();
        var r = Corrupt(truth, WrongCount());
        return (query, truth, r, r.Right(truth));
    }
}
