using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Multimodal.Models;

/// <summary>
/// GILL's retrieval head: the [IMG] tokens' hidden states (averaged) and an image's visual latent are each
/// mapped by a Linear layer to a shared 256-d space and L2-normalised; trained with a symmetric InfoNCE loss.
/// </summary>
public sealed class RetrievalHead : nn.Module
{
    public readonly Linear text_proj, image_proj;
    public readonly Parameter logit_scale;

    public RetrievalHead(MultimodalConfig config) : base(nameof(RetrievalHead))
    {
        text_proj = nn.Linear(config.LmHiddenSize, config.RetrievalDim);
        image_proj = nn.Linear(config.ConditionSlots * config.ConditionDim, config.RetrievalDim);
        // CLIP's initial temperature 0.07, learned in log space.
        logit_scale = nn.Parameter(tensor(MathF.Log(1 / 0.07f)));
        RegisterComponents();
    }

    /// <summary>[B, r, H] -> [B, 256], unit length.</summary>
    public Tensor EmbedText(Tensor imgHiddenStates) => nn.functional.normalize(text_proj.forward(imgHiddenStates.mean([1])), dim: -1);

    /// <summary>visual latent [B, slots, dim] -> [B, 256], unit length.</summary>
    public Tensor EmbedImage(Tensor visualLatent) => nn.functional.normalize(image_proj.forward(visualLatent.flatten(1)), dim: -1);
}

/// <summary>GILL's decision classifier: Linear on the [IMG0] hidden state, class 0 = generate, 1 = retrieve.</summary>
public sealed class DecisionHead : nn.Module<Tensor, Tensor>
{
    public readonly Linear classifier;

    public DecisionHead(MultimodalConfig config) : base(nameof(DecisionHead))
    {
        classifier = nn.Linear(config.LmHiddenSize, 2);
        RegisterComponents();
    }

    /// <summary>[B, H] ([IMG0] state) -> logits [B, 2].</summary>
    public override Tensor forward(Tensor img0State) => classifier.forward(img0State);
}
