using Platform.Inference.Engine;
using Platform.Inference.Models.Moe;
using static TorchSharp.torch;

namespace Platform.Inference.Generation;

/// <summary>
/// Keeps an image-token model's pictures well formed (always on for such a model): outside a picture the code tokens
/// and end-of-image are masked (begin-of-image is the model's own choice, sampled like any token); after
/// begin-of-image exactly <see cref="ImageVocabulary.CodesPerImage"/> code tokens may follow (every other logit
/// masked), then end-of-image is forced. The codes of a picture that closes are handed out once by
/// <see cref="TakeCompleted"/>. A prompt may end inside a picture: the generation completes it.
/// </summary>
public sealed class PictureConstraint
{
    private readonly ImageVocabulary _vocabulary;
    private readonly int _grid;
    private List<int>? _codes;           // non-null inside a picture
    private GeneratedPicture? _completed;

    public PictureConstraint(ImageVocabulary vocabulary, int gridSize, ReadOnlySpan<int> prompt)
    {
        if (gridSize * gridSize != vocabulary.CodesPerImage) throw new ArgumentException($"grid {gridSize}x{gridSize} is not {vocabulary.CodesPerImage} codes", nameof(gridSize));
        _vocabulary = vocabulary;
        _grid = gridSize;
        for (int i = 0; i < prompt.Length; i++)
        {
            int t = prompt[i];
            if (t < vocabulary.BaseVocabulary) continue;
            if (!Allows(t)) throw new ArgumentException(Describe(i, t));
            Step(t);
        }
        _completed = null;   // pictures of the prompt are not the generation's
    }

    /// <summary>Inside a picture (begin-of-image seen, end-of-image not yet).</summary>
    public bool InPicture => _codes is not null;

    /// <summary>Code tokens still to come in the current picture (0 outside one).</summary>
    public int CodesLeft => _codes is null ? 0 : _vocabulary.CodesPerImage - _codes.Count;

    /// <summary>Whether <paramref name="token"/> may come next.</summary>
    public bool Allows(int token)
    {
        var v = _vocabulary;
        if (_codes is null) return token < v.BaseVocabulary || token == v.BeginOfImage;
        return _codes.Count < v.CodesPerImage ? v.IsCode(token) : token == v.EndOfImage;
    }

    /// <summary>Sets the logits of tokens that may not come next to -infinity (one row [base vocabulary + new tokens]).</summary>
    public void Mask(Tensor logits)
    {
        var v = _vocabulary;
        long width = logits.shape[0];
        if (width < v.Size) throw new ArgumentException($"logits row has {width} entries; the image vocabulary ends at {v.Size}");
        if (_codes is null)
            logits.narrow(0, v.EndOfImage, width - v.EndOfImage).fill_(float.NegativeInfinity);
        else if (_codes.Count < v.CodesPerImage)
        {
            logits.narrow(0, 0, v.BaseVocabulary + 2).fill_(float.NegativeInfinity);
            if (width > v.Size) logits.narrow(0, v.Size, width - v.Size).fill_(float.NegativeInfinity);
        }
        else
        {
            logits.narrow(0, 0, v.EndOfImage).fill_(float.NegativeInfinity);
            logits.narrow(0, v.EndOfImage + 1, width - v.EndOfImage - 1).fill_(float.NegativeInfinity);
        }
    }

    /// <summary>Moves past the chosen token (the mask allowed it).</summary>
    public void Advance(int token)
    {
        if (token < _vocabulary.BaseVocabulary && _codes is null) return;
        if (!Allows(token)) throw new InvalidOperationException($"token {token} breaks the picture (in a picture: {InPicture}, {CodesLeft} codes left)");
        Step(token);
    }

    /// <summary>The picture the last token closed, once; null otherwise.</summary>
    public GeneratedPicture? TakeCompleted()
    {
        var p = _completed;
        _completed = null;
        return p;
    }

    private void Step(int token)
    {
        var v = _vocabulary;
        if (token == v.BeginOfImage) _codes = new List<int>(v.CodesPerImage);
        else if (token == v.EndOfImage)
        {
            _completed = new GeneratedPicture(_grid, _codes!.ToArray());
            _codes = null;
        }
        else if (v.IsCode(token)) _codes!.Add(v.CodeOf(token));
    }

    private string Describe(int position, int token)
    {
        var v = _vocabulary;
        string what = token == v.BeginOfImage ? "begin-of-image" : token == v.EndOfImage ? "end-of-image" : v.IsCode(token) ? $"image code {v.CodeOf(token)}" : $"token {token}";
        string where = _codes is null ? "outside a picture" : _codes.Count < v.CodesPerImage
            ? $"inside a picture after {_codes.Count} of its {v.CodesPerImage} codes" : $"after a picture's {v.CodesPerImage} codes (end-of-image must follow)";
        return $"prompt token {position} ({what}) is {where}: a picture is begin-of-image, {v.CodesPerImage} codes, end-of-image";
    }

    /// <summary>The text a logprob reports for an image token: begin, end, or &lt;|image_code_N|&gt;.</summary>
    public static string TokenText(ImageVocabulary vocabulary, ImageTokenAdapterConfig? config, int token) =>
        token == vocabulary.BeginOfImage ? config?.BeginToken ?? ImageVocabulary.BeginToken
        : token == vocabulary.EndOfImage ? config?.EndToken ?? ImageVocabulary.EndToken
        : $"<|image_code_{vocabulary.CodeOf(token)}|>";
}
