using Platform.Inference.Loading;

namespace Platform.Inference.Engine.Scheduling;

/// <summary>
/// Input images in a prompt (GILL / LLaVA-style visual tokens): every <see cref="GenerationRequest.ImagePlaceholder"/>
/// in the text becomes its image's rows, one filler token per row, whose embedding the prefill replaces with the row.
/// An image must be [Tokens, hidden size] of the model.
/// </summary>
internal sealed class ImageSplicer
{
    private readonly LoadedModel _model;

    public ImageSplicer(LoadedModel model) => _model = model;

    /// <summary>The token id a spliced row stands on: any id does, its embedding row is replaced (the ids still name
    /// the row's token for an image-token adapter and for routing statistics).</summary>
    private int Filler => _model.Tokenizer.EosTokenId ?? 0;

    /// <summary>Tokenizes rendered chat text holding exactly one placeholder per image; returns the tokens and the
    /// visual rows by prompt position.</summary>
    public (int[] Tokens, Dictionary<int, float[]> Rows) Splice(string text, IReadOnlyList<VisualEmbedding> images)
    {
        var parts = text.Split(GenerationRequest.ImagePlaceholder);
        if (parts.Length - 1 != images.Count)
            throw new ArgumentException($"messages contain {parts.Length - 1} '{GenerationRequest.ImagePlaceholder}' placeholders but {images.Count} images");
        var tokens = new List<int>();
        var rows = new Dictionary<int, float[]>();
        for (int i = 0; i < parts.Length; i++)
        {
            tokens.AddRange(_model.Tokenizer.Encode(parts[i]));
            if (i == images.Count) break;
            foreach (var row in RowsOf(images[i], $"image {i}"))
            {
                rows[tokens.Count] = row;
                tokens.Add(Filler);
            }
        }
        return (tokens.ToArray(), rows);
    }

    /// <summary>Tokenizes one piece of a prompt with sets; each placeholder takes the next image of
    /// <paramref name="images"/>.</summary>
    public TokenRun Tokenize(string text, Queue<VisualEmbedding> images, bool addBos)
    {
        var tok = _model.Tokenizer;
        var tokens = new List<int>();
        var rows = new List<float[]?>();
        if (addBos && tok.BosTokenId is int bos) { tokens.Add(bos); rows.Add(null); }
        var parts = text.Split(GenerationRequest.ImagePlaceholder);
        for (int i = 0; i < parts.Length; i++)
        {
            if (parts[i].Length > 0)
                foreach (var t in tok.Encode(parts[i])) { tokens.Add(t); rows.Add(null); }
            if (i == parts.Length - 1) break;
            if (!images.TryDequeue(out var img))
                throw new ArgumentException($"the prompt has more '{GenerationRequest.ImagePlaceholder}' placeholders than images");
            foreach (var row in RowsOf(img, "an image"))
            {
                tokens.Add(Filler);
                rows.Add(row);
            }
        }
        return new TokenRun(tokens.ToArray(), rows.ToArray());
    }

    /// <summary>The image's rows after checking its shape against the model; <paramref name="name"/> names it in errors.</summary>
    private IEnumerable<float[]> RowsOf(VisualEmbedding img, string name)
    {
        int hidden = _model.Config.HiddenSize;
        if (img.Hidden != hidden) throw new ArgumentException($"{name} has embedding width {img.Hidden}; the model's hidden size is {hidden}");
        if (img.Tokens <= 0 || img.Data.Length != img.Tokens * img.Hidden)
            throw new ArgumentException($"{name} has {img.Data.Length} values, expected Tokens x Hidden = {img.Tokens} x {img.Hidden}");
        var rows = new float[img.Tokens][];
        for (int t = 0; t < img.Tokens; t++) rows[t] = img.Data.AsSpan(t * hidden, hidden).ToArray();
        return rows;
    }
}
