using static TorchSharp.torch;

namespace Platform.Multimodal.Models;

/// <summary>
/// The input side alone: the visual encoder and the projection into a language model's embedding space, with the
/// same field names (so the same weight keys: visual_encoder.*, visual_projection.*) as in <see cref="Training.MultimodalHeads"/>.
/// A model that reads images but never draws them (a judge) carries only this in its multimodal.safetensors; its
/// multimodal_config.json says <see cref="MultimodalConfig.InputOnly"/>.
/// </summary>
public sealed class VisualInput : nn.Module
{
    public readonly VisualEncoder visual_encoder;
    public readonly VisualProjection visual_projection;

    public VisualInput(MultimodalConfig config) : base(nameof(VisualInput))
    {
        Config = config;
        visual_encoder = new VisualEncoder(config);
        visual_projection = new VisualProjection(config);
        RegisterComponents();
    }

    public MultimodalConfig Config { get; }

    /// <summary>images [B, 3, S, S] -> visual tokens [B, visual_tokens, lm_hidden].</summary>
    public Tensor VisualTokens(Tensor images)
    {
        using var scope = NewDisposeScope();
        return visual_projection.forward(visual_encoder.forward(images)).MoveToOuterDisposeScope();
    }
}
