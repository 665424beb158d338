namespace Platform.Inference.Engine;

/// <summary>
/// A picture an image-token model drew (<see cref="Loading.LoadedModel.ImageVocabulary"/>): the VQ codes between its
/// begin- and end-of-image tokens, <paramref name="GridSize"/>² of them in raster order, each in 0..codebook-1.
/// </summary>
public sealed record GeneratedPicture(int GridSize, int[] Codes);
