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
}
