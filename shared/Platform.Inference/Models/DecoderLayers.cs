using Platform.Inference.Models.Llama;
using Platform.Inference.Models.Mixtral;
using Platform.Inference.Models.Olmoe;
using Platform.Inference.Models.Phi3;
using Platform.Inference.Models.Qwen2Moe;
using Platform.Inference.Models.Qwen3;

namespace Platform.Inference.Models;

/// <summary>The decoder layer class of a config's family (LlamaModel builds its layers with it).</summary>
public static class DecoderLayers
{
    public static DecoderLayer Create(LlamaConfig config, int layerIndex) => config switch
    {
        MixtralConfig m => new MixtralDecoderLayer(m, layerIndex),
        OlmoeConfig o => new OlmoeDecoderLayer(o, layerIndex),
        Qwen2MoeConfig q => new Qwen2MoeDecoderLayer(q, layerIndex),
        Qwen3Config q3 => new Qwen3DecoderLayer(q3, layerIndex),
        Phi3Config p3 => new Phi3DecoderLayer(p3, layerIndex),
        _ => new LlamaDecoderLayer(config, layerIndex),
    };
}
