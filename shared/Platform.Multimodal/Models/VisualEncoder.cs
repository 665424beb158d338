using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Multimodal.Models;

/// <summary>
/// Visual encoder for input images: a small CNN (32 -> 16 -> 8 -> 4) and two Linear layers to a latent of
/// [slots, dim], trained to regress the scene's conditioning (so its latent reads like the decoder's input: one
/// row per object). GILL uses a frozen CLIP ViT here; a CNN of this size is what the 2-core budget allows.
/// </summary>
public sealed class VisualEncoder : nn.Module<Tensor, Tensor>
{
    public readonly Conv2d conv1, conv2, conv3, conv4;
    public readonly Linear fc1, fc2;
    private readonly MultimodalConfig _config;

    public VisualEncoder(MultimodalConfig config) : base(nameof(VisualEncoder))
    {
        _config = config;
        conv1 = nn.Conv2d(3, 16, 3, padding: 1);
        conv2 = nn.Conv2d(16, 32, 4, stride: 2, padding: 1);
        conv3 = nn.Conv2d(32, 64, 4, stride: 2, padding: 1);
        conv4 = nn.Conv2d(64, 64, 4, stride: 2, padding: 1);
        int spatial = config.ImageSize / 8;
        fc1 = nn.Linear(64 * spatial * spatial, 256);
        fc2 = nn.Linear(256, config.ConditionSlots * config.ConditionDim);
        RegisterComponents();
    }

    /// <summary>images [B, 3, S, S] in [0, 1] -> latent [B, slots, dim].</summary>
    public override Tensor forward(Tensor images)
    {
        using var scope = NewDisposeScope();
        var x = nn.functional.relu(conv1.forward(images));
        x = nn.functional.relu(conv2.forward(x));
        x = nn.functional.relu(conv3.forward(x));
        x = nn.functional.relu(conv4.forward(x));
        x = nn.functional.relu(fc1.forward(x.flatten(1)));
        return fc2.forward(x).reshape(-1, _config.ConditionSlots, _config.ConditionDim).MoveToOuterDisposeScope();
    }
}

/// <summary>GILL's input side: a Linear layer from the visual latent into the LM's embedding space, giving
/// <see cref="MultimodalConfig.VisualTokens"/> tokens per image (visual_tokens / slots per latent row).</summary>
public sealed class VisualProjection : nn.Module<Tensor, Tensor>
{
    public readonly Linear proj;
    private readonly MultimodalConfig _config;

    public VisualProjection(MultimodalConfig config) : base(nameof(VisualProjection))
    {
        if (config.VisualTokens % config.ConditionSlots != 0)
            throw new ArgumentException($"visual_tokens ({config.VisualTokens}) must be a multiple of condition_slots ({config.ConditionSlots})");
        _config = config;
        proj = nn.Linear(config.ConditionDim, config.VisualTokens / config.ConditionSlots * config.LmHiddenSize);
        RegisterComponents();
    }

    public MultimodalConfig Config => _config;

    /// <summary>latent [B, slots, dim] -> visual tokens [B, visual_tokens, lm_hidden].</summary>
    public override Tensor forward(Tensor latent) => proj.forward(latent).reshape(-1, _config.VisualTokens, _config.LmHiddenSize);
}
