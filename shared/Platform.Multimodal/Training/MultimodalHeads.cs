using Platform.Multimodal.Models;
using static TorchSharp.torch;

namespace Platform.Multimodal.Training;

/// <summary>Every multimodal module except the LM and the decoder, saved together as multimodal.safetensors with
/// keys prefixed by the field names (condition_encoder.*, visual_encoder.*, visual_projection.*, mapper.*, retrieval.*, decision.*).</summary>
public sealed class MultimodalHeads : nn.Module
{
    public readonly ConditionEncoder condition_encoder;
    public readonly VisualEncoder visual_encoder;
    public readonly VisualProjection visual_projection;
    public readonly GillMapper mapper;
    public readonly RetrievalHead retrieval;
    public readonly DecisionHead decision;

    public MultimodalHeads(MultimodalConfig config) : base(nameof(MultimodalHeads))
    {
        Config = config;
        condition_encoder = new ConditionEncoder(config);
        visual_encoder = new VisualEncoder(config);
        visual_projection = new VisualProjection(config);
        mapper = new GillMapper(config);
        retrieval = new RetrievalHead(config);
        decision = new DecisionHead(config);
        RegisterComponents();
    }

    public MultimodalConfig Config { get; }

    /// <summary>images [B, 3, S, S] -> visual tokens [B, visual_tokens, lm_hidden] (GILL's input side).</summary>
    public Tensor VisualTokens(Tensor images)
    {
        using var scope = NewDisposeScope();
        return visual_projection.forward(visual_encoder.forward(images)).MoveToOuterDisposeScope();
    }

    /// <summary>images -> the image's latent [B, slots, dim] for retrieval: the conditioning its predicted attributes
    /// would give (so gallery images and generated ones live in the same space).</summary>
    public Tensor ImageLatent(Tensor images)
    {
        using var scope = NewDisposeScope();
        return condition_encoder.FromLogits(visual_encoder.forward(images)).MoveToOuterDisposeScope();
    }

    /// <summary>The mapper's memory (hidden states and input embeddings [B, S, H], the [IMG] tokens last; keep [B, S]
    /// false on padding, or null) -> the decoder's conditioning [B, slots, dim] (mapper attribute logits through the
    /// condition encoder's tables).</summary>
    public Tensor Conditioning(Tensor hiddenStates, Tensor inputEmbeddings, Tensor? keep = null)
    {
        using var scope = NewDisposeScope();
        return condition_encoder.FromLogits(mapper.Forward(hiddenStates, inputEmbeddings, keep)).MoveToOuterDisposeScope();
    }
}
