namespace Platform.Inference.Models.Moe;

/// <summary>
/// The image tokens appended to the base model's vocabulary: begin-of-image, end-of-image, then one token per VQ
/// code, at ids from the base vocabulary size on (the rows <see cref="ImageTokenAdapter"/>
/// appends to the embeddings and the output head, in this order).
/// </summary>
public sealed record ImageVocabulary(int BaseVocabulary, int CodebookSize, int CodesPerImage)
{
    public const string BeginToken = "<|image_start|>";
    public const string EndToken = "<|image_end|>";

    public int BeginOfImage => BaseVocabulary;
    public int EndOfImage => BaseVocabulary + 1;
    /// <summary>New rows: begin, end and the codes.</summary>
    public int NewTokens => CodebookSize + 2;
    public int Size => BaseVocabulary + NewTokens;

    public int CodeToken(long code) => (ulong)code < (ulong)CodebookSize
        ? BaseVocabulary + 2 + (int)code
        : throw new ArgumentOutOfRangeException(nameof(code), $"code {code} is outside the codebook (0..{CodebookSize - 1})");

    public bool IsCode(int token) => token >= BaseVocabulary + 2 && token < Size;

    public int CodeOf(int token) => IsCode(token) ? token - BaseVocabulary - 2
        : throw new ArgumentOutOfRangeException(nameof(token), $"token {token} is not an image code");

    /// <summary>The token run of one picture: begin, its codes in raster order, end.</summary>
    public int[] Picture(ReadOnlySpan<long> codes)
    {
        if (codes.Length != CodesPerImage) throw new ArgumentException($"a picture has {CodesPerImage} codes, got {codes.Length}", nameof(codes));
        var run = new int[CodesPerImage + 2];
        run[0] = BeginOfImage;
        for (int i = 0; i < codes.Length; i++) run[i + 1] = CodeToken(codes[i]);
        run[^1] = EndOfImage;
        return run;
    }
}
