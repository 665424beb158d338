using Platform.Inference.Tokenization;
using Platform.Multimodal.World;

namespace Platform.Multimodal.Training;

/// <summary>A conversation as token ids in the "demo" chat layout (ChatML: &lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n).
/// Visual-token positions hold -1 and are filled by the projection of the image at <see cref="ImageStarts"/>.</summary>
public sealed record EncodedDialogue(int[] Ids, bool[] Loss, IReadOnlyList<Scene> Images, IReadOnlyList<int> ImageStarts, IReadOnlyList<int> ImgTokenStarts,
    IReadOnlyList<(Scene Scene, bool Retrieve)> ImgTargets)
{
    /// <summary>The ids the LM reads, where a training stream changed them (colour noise); null: <see cref="Ids"/>.
    /// <see cref="Ids"/> always holds the targets.</summary>
    public int[]? Inputs { get; init; }

    /// <summary>Per entry of <see cref="ImgTokenStarts"/>: where the words before that picture begin (the start of the
    /// answer, or the end of the previous picture's [IMG] tokens in the same answer), as the engine counts them.</summary>
    public IReadOnlyList<int> ImgContextStarts { get; init; } = [];
}

/// <summary>
/// Tokenises conversations piece by piece exactly as the engine does for a rendered prompt: the text is split at
/// "&lt;image&gt;" and each text piece is encoded on its own (special tokens such as &lt;|im_end|&gt; and [IMG0] are
/// pre-tokenisation boundaries, so piecewise encoding equals encoding the whole rendered string). The loss covers
/// assistant content and its &lt;|im_end|&gt; (not of history turns marked <see cref="WorldTurn.Train"/> false).
/// </summary>
public sealed class DemoChat(TextTokenizer tokenizer, int visualTokens)
{
    public TextTokenizer Tokenizer => tokenizer;
    public int VisualTokens => visualTokens;
    public int ImEnd { get; } = tokenizer.TokenToId("<|im_end|>") ?? throw new InvalidOperationException("tokenizer has no <|im_end|>");
    public int Img0 { get; } = tokenizer.TokenToId(WorldText.ImageTokens[0]) ?? throw new InvalidOperationException("tokenizer has no [IMG0]");

    /// <summary>Token ids of the colour words and shape words (each one BPE token, with its leading space).</summary>
    public int[] ColourIds { get; } = Palette.Names.Select(n => SingleToken(tokenizer, " " + n)).ToArray();
    public int[] ShapeIds { get; } = Enum.GetValues<Shape>().Select(s => SingleToken(tokenizer, " " + WorldText.ShapeName(s))).ToArray();

    private static int SingleToken(TextTokenizer tokenizer, string word)
    {
        var ids = tokenizer.Encode(word);
        return ids.Count == 1 ? ids[0] : -1;
    }

    public EncodedDialogue Encode(IReadOnlyList<WorldTurn> turns, bool addGenerationPrompt = false)
    {
        var ids = new List<int>();
        var loss = new List<bool>();
        var images = new List<Scene>();
        var imageStarts = new List<int>();
        var imgStarts = new List<int>();
        var imgTargets = new List<(Scene, bool)>();
        var contextStarts = new List<int>();
        WorldTurn? current = null;
        int run = 0, contextStart = 0;
        void Add(string text, bool train)
        {
            foreach (var id in tokenizer.Encode(text))
            {
                if (id == Img0 && current is not null && run < current.Outputs.Count)
                {
                    imgStarts.Add(ids.Count);
                    contextStarts.Add(contextStart);
                    contextStart = ids.Count + WorldText.ImageTokens.Length;
                    imgTargets.Add((current.Outputs[run++], current.Retrieve));
                }
                ids.Add(id);
                loss.Add(train);
            }
        }
        foreach (var turn in turns)
        {
            bool assistant = turn.Role == "assistant" && turn.Train;
            current = turn;
            run = 0;
            Add($"<|im_start|>{turn.Role}\n", false);
            contextStart = ids.Count;
            var pieces = turn.Text.Split(WorldText.ImagePlaceholder);
            if (pieces.Length - 1 != turn.InputImages.Count)
                throw new ArgumentException($"turn has {pieces.Length - 1} {WorldText.ImagePlaceholder} placeholders but {turn.InputImages.Count} images");
            for (int p = 0; p < pieces.Length; p++)
            {
                if (p > 0)
                {
                    images.Add(turn.InputImages[p - 1]);
                    imageStarts.Add(ids.Count);
                    for (int k = 0; k < visualTokens; k++) { ids.Add(-1); loss.Add(false); }
                }
                if (pieces[p].Length > 0) Add(pieces[p], assistant);
            }
            Add("<|im_end|>", assistant);
            Add("\n", false);
        }
        if (addGenerationPrompt) Add("<|im_start|>assistant\n", false);
        return new EncodedDialogue(ids.ToArray(), loss.ToArray(), images, imageStarts, imgStarts, imgTargets) { ImgContextStarts = contextStarts };
    }
}
