using Platform.Inference.Engine;

namespace MoeAdapter.Models;

/// <summary>A loaded MoE model: its engine and, for an image-token model, the decoder of the pictures it draws.</summary>
public sealed record MoeModel(string Name, TextEngine Engine, PictureDecoder? Pictures)
{
    public bool DrawsPictures => Pictures is not null;
}
