using Platform.Contracts.Chat;
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
    public SceneObject ToObject() => new(Colour, Shape, Size, Row, Column);

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

/// <summary>What is judged: a drawing request answered in words (text), a drawing request answered with pictures
/// (image), or a picture to describe answered in words (caption).</summary>
public enum JudgeMedium { Text, Image, Caption }

/// <summary>One response: its text ("&lt;image&gt;" for a picture), the picture if any, and what it says or shows.</summary>
public sealed record JudgedResponse(string Text, Picture? Picture, Description Says);

/// <summary>A judging case with its ground truth: the query (with its picture, for captions), the truth the responses
/// are held against (the request, or what the query's picture shows) and the responses.</summary>
public sealed record JudgeCase(JudgeMedium Medium, string Query, Picture? QueryPicture, Description Truth, IReadOnlyList<JudgedResponse> Responses)
{
    /// <summary>0 or 1 for the response with more attributes right, -1 for a tie (pairs only).</summary>
    public int Label => Responses[0].Says.Right(Truth) > Responses[1].Says.Right(Truth) ? 0
        : Responses[0].Says.Right(Truth) < Responses[1].Says.Right(Truth) ? 1 : -1;
}

/// <summary>One training judgement: the prompt the judge service renders, its pictures in placeholder order (query,
/// then the responses in prompt order, then the focus), the target critique + verdict, and the ground truth.</summary>
public sealed record JudgeExample(string Kind, JudgeMedium Medium, string Prompt, IReadOnlyList<Picture> Pictures, string Target, int? Rating, int? Winner,
    Description Request, IReadOnlyList<Description> Responses);

/// <summary>
/// Judge data from the demo world's ground truth. A drawing request names one object; a response describes what was
/// drawn (text) or is the drawing itself (image, rendered or from the demo decoder), or the query holds a picture and
/// the response describes it (caption). Responses get 0 to 4 of the attributes (size, colour, shape, position) wrong.
/// The rating follows how many are right, the better of two responses is the one with more right (a tie when equal),
/// and the critique copies what each response says or shows and what the request says (or the picture shows), then
/// names each wrong attribute ("Response 2 says a small blue circle at the top left; the request says a small red
/// circle at the top left. Wrong: blue instead of red."). Prompts are the
/// Judge service's own: Auto-J's single and pairwise protocols and the set protocol, with "&lt;image&gt;" where the
/// gateway puts a picture.
/// </summary>
public sealed class JudgeWorld(int seed, WorldSplit split, JudgePictures? pictures = null)
{
    private readonly SceneGenerator _scenes = new(seed);
    private readonly Random _random = new(seed + 101);
    private readonly JudgePictures _pictures = pictures ?? JudgePictures.RenderedOnly(seed + 202);

    /// <summary>Rating 1..10 from attributes right (0..4): strictly increasing, 10 only when all are right.</summary>
    public static readonly int[] RatingByRight = [1, 3, 5, 8, 10];

    /// <summary>Share of each medium in training (text, image, caption) and of each protocol (single, ordered, set).</summary>
    public double[] MediumShares { get; init; } = [0.4, 0.35, 0.25];
    public double[] ProtocolShares { get; init; } = [0.35, 0.15, 0.5];

    public JudgeExample Next()
    {
        var medium = (JudgeMedium)Pick(MediumShares);
        return Pick(ProtocolShares) switch { 0 => Single(medium), 1 => Ordered(medium), _ => Set(medium) };
    }

    private int Pick(double[] shares)
    {
        double u = _random.NextDouble() * shares.Sum();
        for (int i = 0; i < shares.Length - 1; i++)
            if ((u -= shares[i]) < 0) return i;
        return shares.Length - 1;
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

    /// <summary>
    /// The critique of one response: first what it says (or shows) and what the request says (or the picture shows),
    /// each copied whole, then the wrong attributes named from those two copies ("Wrong: blue instead of red.").
    /// Copying first and comparing the copies is a chain of thought a small judge learns far sooner than naming a
    /// mismatch straight from the prompt: a first version that wrote only "says blue; the request says red." stayed
    /// at the loss of a judge that ignores the data (~0.3 nats a token) through 1,200 steps and named the same values
    /// for every input.
    /// </summary>
    public static string Critique(string who, Description response, Description truth, JudgeMedium medium = JudgeMedium.Text)
    {
        var errors = response.Errors(truth);
        var (verb, reference) = medium switch
        {
            JudgeMedium.Image => ("shows", "the request says"),
            JudgeMedium.Caption => ("says", "the image shows"),
            _ => ("says", "the request says"),
        };
        var verdict = errors.Count == 0 ? "All four match." : "Wrong: " + string.Join(", ", errors.Select(e => $"{e.Says} instead of {e.Truth}")) + ".";
        return $"{who} {verb} {response.Text}; {reference} {truth.Text}. {verdict}";
    }

    /// <summary>A response that says or shows <paramref name="says"/> in the medium (a picture's truth is what it shows).</summary>
    private JudgedResponse Respond(JudgeMedium medium, Description says)
    {
        if (medium != JudgeMedium.Image) return new JudgedResponse(_random.Next(2) == 0 ? says.Text : says.Text + ".", null, says);
        var p = _pictures.Draw(says);
        return new JudgedResponse(PromptMarkers.Image, p, p.Shown);
    }

    /// <summary>The query and its truth: a drawing request, or (caption) a picture and a request to describe it.</summary>
    private (string Query, Picture? Picture, Description Truth) Query(JudgeMedium medium)
    {
        if (medium != JudgeMedium.Caption)
        {
            var (q, t) = Request();
            return (q, null, t);
        }
        var obj = _scenes.NextScene(split, jitter: false, objectCount: 1).Objects[0];
        var p = _pictures.Draw(Description.Of(obj));
        return ($"{PromptMarkers.Image} {WorldText.DescribePrompts[_random.Next(WorldText.DescribePrompts.Length)]}", p, p.Shown);
    }

    /// <summary>One response to rate, with its query.</summary>
    public JudgeCase SingleCase(JudgeMedium medium)
    {
        var (query, picture, truth) = Query(medium);
        return new JudgeCase(medium, query, picture, truth, [Respond(medium, Corrupt(truth, WrongCount()))]);
    }

    /// <summary>Two responses: a quarter are ties (equally right, possibly both fully right), the rest differ by chance.</summary>
    public JudgeCase PairCase(JudgeMedium medium)
    {
        var (query, picture, truth) = Query(medium);
        var a = Respond(medium, Corrupt(truth, WrongCount()));
        int aRight = a.Says.Right(truth);
        var b = Respond(medium, _random.Next(4) == 0 ? Corrupt(truth, 4 - aRight) : Corrupt(truth, WrongCount()));
        // Two identical responses are only allowed when both are fully right.
        for (int tries = 0; b.Says == a.Says && aRight < 4 && tries < 20; tries++) b = Respond(medium, Corrupt(truth, 4 - aRight));
        return new JudgeCase(medium, query, picture, truth, [a, b]);
    }

    private static IEnumerable<Picture> Pics(Picture? p) => p is null ? [] : [p];

    public JudgeExample Single(JudgeMedium medium = JudgeMedium.Text)
    {
        var c = SingleCase(medium);
        var r = c.Responses[0];
        int rating = RatingByRight[r.Says.Right(c.Truth)];
        var target = $"{Critique("The response", r.Says, c.Truth, medium)} Rating: [[{rating}]]";
        return new JudgeExample("single", medium, AutoJPrompts.RenderSingle(c.Query, r.Text), [.. Pics(c.QueryPicture), .. Pics(r.Picture)],
            target, rating, null, c.Truth, [r.Says]);
    }

    public JudgeExample Ordered(JudgeMedium medium = JudgeMedium.Text)
    {
        var c = PairCase(medium);
        var (a, b) = (c.Responses[0], c.Responses[1]);
        int w = c.Label;
        var verdict = w switch { 0 => "Response 1", 1 => "Response 2", _ => "Tie" };
        var target = $"{Critique("Response 1", a.Says, c.Truth, medium)} {Critique("Response 2", b.Says, c.Truth, medium)} So, the final decision is {verdict}";
        return new JudgeExample("ordered", medium, AutoJPrompts.RenderPairwise(c.Query, a.Text, b.Text),
            [.. Pics(c.QueryPicture), .. Pics(a.Picture), .. Pics(b.Picture)], target, null, w, c.Truth, [a.Says, b.Says]);
    }

    public JudgeExample Set(JudgeMedium medium = JudgeMedium.Text)
    {
        var c = PairCase(medium);
        var (a, b) = (c.Responses[0], c.Responses[1]);
        bool focusFirst = _random.Next(2) == 0;
        var (focus, other) = focusFirst ? (a, b) : (b, a);
        int w = focus.Says.Right(c.Truth) > other.Says.Right(c.Truth) ? 0 : focus.Says.Right(c.Truth) < other.Says.Right(c.Truth) ? 1 : -1;
        var verdict = w switch { 0 => "Better", 1 => "Worse", _ => "Tie" };
        var target = $"{Critique("The focus response", focus.Says, c.Truth, medium)} {Critique("The other response", other.Says, c.Truth, medium)} So, the final decision is {verdict}";
        // Pictures in the order the service sends them: query, the set members as sent, then the focus.
        return new JudgeExample("set", medium, SetProtocol.Render(c.Query, [a.Text, b.Text], focus.Text),
            [.. Pics(c.QueryPicture), .. Pics(a.Picture), .. Pics(b.Picture), .. Pics(focus.Picture)], target, null, w, c.Truth, [focus.Says, other.Says]);
    }
}
