namespace Platform.Multimodal.World;

/// <summary>One turn of a demo-world conversation. <see cref="Text"/> holds one "&lt;image&gt;" per input image;
/// an assistant turn that shows a picture has the GILL tokens [IMG0]..[IMG7] after the sentence naming the scene it
/// shows (<see cref="OutputScene"/>, or one per run in <see cref="OutputScenes"/> when it shows several). An earlier
/// assistant picture in the history is an input image of that turn ("here is ... &lt;image&gt;"), as the gateway
/// passes it back; such a turn has <see cref="Train"/> false (no loss: the model never writes visual tokens).</summary>
public sealed record WorldTurn(string Role, string Text, IReadOnlyList<Scene> InputImages, Scene? OutputScene = null, bool Retrieve = false,
    IReadOnlyList<Scene>? OutputScenes = null, bool Train = true)
{
    /// <summary>The scenes of this turn's [IMG] runs, in order.</summary>
    public IReadOnlyList<Scene> Outputs => OutputScenes ?? (OutputScene is null ? [] : [OutputScene]);
}

/// <summary>A conversation of the demo world; <see cref="Kind"/> is caption, instruction, retrieval, question or dialogue.</summary>
public sealed record WorldDialogue(string Kind, IReadOnlyList<WorldTurn> Turns);

/// <summary>Words and sentences of the demo world.</summary>
public static class WorldText
{
    public const int ImageTokenCount = 8;
    public static readonly string[] ImageTokens = Enumerable.Range(0, ImageTokenCount).Select(i => $"[IMG{i}]").ToArray();
    public static readonly string ImageTokenRun = string.Concat(ImageTokens);
    /// <summary>Where an input image's visual tokens go in a turn's text (the one definition the engine and gateway use).</summary>
    public const string ImagePlaceholder = Platform.Inference.Engine.GenerationRequest.ImagePlaceholder;

    public static readonly string[] RowNames = ["top", "middle", "bottom"];
    public static readonly string[] ColumnNames = ["left", "center", "right"];
    public static string PositionName(int row, int column) => $"{RowNames[row]} {ColumnNames[column]}";
    public static string ShapeName(Shape s) => s switch { Shape.Circle => "circle", Shape.Square => "square", _ => "triangle" };

    public static readonly string[] DrawVerbs = Platform.Contracts.Images.DemoWorldPhrasing.DrawVerbs;
    public static readonly string[] RetrieveVerbs = ["show me the picture of", "find the picture of", "fetch the photo of"];
    public static readonly string[] DescribePrompts = ["describe the image.", "what is in this picture?", "caption this image."];

    /// <summary>What the demo model says about itself: greetings, who it is, what it can do, thanks, goodbye; and
    /// what it answers to a request outside its world. Short and true, never a picture.</summary>
    public const string GreetingAnswer = "hello! I draw and describe simple pictures of circles, squares and triangles. ask me to draw one, or send me a picture.";
    public const string IdentityAnswer = "I am the demo model of this platform: a small model trained to draw and describe pictures of simple shapes.";
    public const string AbilityAnswer = "I can draw circles, squares and triangles, small or large, in nine places on a 3x3 grid; colours: red, green, blue, yellow, purple and white. I can also describe pictures and answer questions about them.";
    public const string ThanksAnswer = "you are welcome!";
    public const string GoodbyeAnswer = "goodbye!";
    public const string OutOfWorldDrawing = "sorry, I can only draw circles, squares and triangles; colours: red, green, blue, yellow, purple and white.";
    public const string OutOfWorldQuestion = "sorry, I can only draw and describe pictures of circles, squares and triangles.";

    /// <summary>Small talk prompts and their answers; the last prompt of each list is held out of training.</summary>
    public static readonly (string[] Prompts, string Answer)[] SmallTalk =
    [
        (["hi", "hello", "hi there", "hey", "hey there", "good morning", "good afternoon", "hiya", "hello there"], GreetingAnswer),
        (["who are you?", "what are you?", "what is your name?", "tell me about yourself", "who am I talking to?"], IdentityAnswer),
        (["what can you do?", "what do you do?", "help", "what can I ask you?", "how do I use you?", "what are you able to do?"], AbilityAnswer),
        (["thanks", "thank you", "thanks!", "thank you very much", "great, thanks", "cool, thank you", "thanks a lot"], ThanksAnswer),
        (["bye", "goodbye", "see you", "see you later", "bye bye"], GoodbyeAnswer),
    ];

    /// <summary>Things outside the world; the last three of each list are held out of training.</summary>
    public static readonly string[] OutOfWorldThings =
    [
        "dog", "cat", "house", "tree", "car", "bird", "fish", "flower", "person", "boat", "horse", "sun", "moon", "cow",
        "apple", "chair", "table", "cloud", "mountain", "elephant", "rabbit", "bicycle", "star", "heart", "banana", "train",
        "dragon", "guitar", "penguin",
    ];
    /// <summary>More real things outside the world, for training only (<see cref="SceneGenerator.UnknownThing"/>): none is
    /// held out, and none is a held-out thing of <see cref="OutOfWorldThings"/>. Some are shapes the world does not
    /// have ("rectangle", "oval"): the answer says which shapes it draws.</summary>
    public static readonly string[] MoreOutOfWorldThings =
    [
        "lion", "tiger", "monkey", "spider", "snake", "frog", "duck", "owl", "whale", "shark", "turtle", "giraffe", "zebra",
        "bear", "wolf", "fox", "mouse", "sheep", "pig", "goat", "parrot", "eagle", "dolphin", "octopus", "butterfly", "bee",
        "unicorn", "robot", "rocket", "airplane", "truck", "bus", "ship", "castle", "bridge", "tower", "lamp", "clock", "phone",
        "computer", "book", "cup", "hat", "shoe", "kite", "balloon", "cake", "pizza", "cookie", "carrot", "lemon", "grape",
        "pear", "rose", "leaf", "river", "ocean", "island", "volcano", "planet", "rainbow", "snowman", "sword", "crown", "key",
        "door", "window", "candle", "umbrella", "pencil", "violin", "piano", "drum", "flag", "forest", "garden", "baby",
        "rectangle", "oval", "hexagon", "pentagon", "diamond", "cube", "spiral", "line", "arrow", "cross",
    ];
    public static readonly string[] OutOfWorldQuestions =
    [
        "what is the capital of France?", "write a poem", "what time is it?", "tell me a joke", "translate hello into German",
        "what is the weather like today?", "how old are you?", "can you write code?", "what is 2 plus 2?", "write me a story",
        "who won the football game?",
    ];
    public const int HeldOutTail = 3;

    /// <summary>Parses a caption produced by the world (or by a model) back into objects; null when it does not parse.
    /// Used by the evaluation to score captions attribute by attribute.</summary>
    public static IReadOnlyList<(string? Size, string? Colour, string? Shape, string? Position)> ParseCaption(string text)
    {
        var result = new List<(string?, string?, string?, string?)>();
        foreach (var part in text.Trim().TrimEnd('.').Split(" and ", StringSplitOptions.RemoveEmptyEntries))
        {
            var words = part.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            string? size = words.FirstOrDefault(w => w is "small" or "large");
            string? colour = words.FirstOrDefault(w => Palette.Names.Contains(w));
            string? shape = words.FirstOrDefault(w => w is "circle" or "square" or "triangle");
            string? position = null;
            int at = Array.IndexOf(words, "the");
            if (at >= 0 && at + 2 < words.Length) position = $"{words[at + 1]} {words[at + 2]}";
            result.Add((size, colour, shape, position));
        }
        return result;
    }
}
