using Platform.Inference.Models.Llama;
using Platform.Inference.Models.Mixtral;
using Platform.Inference.Models.Moe;
using Platform.Inference.Models.Olmoe;
using Platform.Inference.Models.Qwen2Moe;
using static TorchSharp.torch;

namespace Platform.Multimodal.MoeAdapter;

/// <summary>
/// Routes sequences through an image-token model (<see cref="ImageTokenAdapter.Forward"/>, teacher forced) and counts,
/// per sparse layer and expert, where the routers send text and image tokens (<see cref="SparseMoeBlock.RoutingObserver"/>
/// into <see cref="ModalityRoutingStatistics"/>). A row is Image when its input id is a new token (>= the base vocabulary),
/// as the engine counts it.
/// </summary>
public static class RoutingAnalysis
{
    public static IReadOnlyList<SparseMoeBlock> SparseBlocks(LlamaForCausalLM model) =>
        model.model.layers.Select(l => (SparseMoeBlock?)(l switch
        {
            MixtralDecoderLayer m => m.Moe,
            OlmoeDecoderLayer o => o.mlp,
            Qwen2MoeDecoderLayer q => q.Moe,
            _ => null,
        })).Where(b => b is not null).Select(b => b!).ToArray();

    /// <summary>Counts of every sequence's routing, one forward per sequence (no padding rows counted).</summary>
    public static ModalityRoutingStatistics Measure(ImageTokenAdapter adapter, IEnumerable<int[]> sequences, CancellationToken ct = default)
    {
        var blocks = SparseBlocks(adapter.BaseModel);
        if (blocks.Count == 0) throw new ArgumentException("the model has no sparse layer");
        var statistics = new ModalityRoutingStatistics(blocks.Count, blocks[0].ExpertCount);
        Modality[] modalities = [];
        for (int l = 0; l < blocks.Count; l++)
        {
            int layer = l, k = blocks[l].TopK;
            blocks[l].RoutingObserver = chosen => statistics.Record(layer, chosen, k, modalities);
        }
        try
        {
            foreach (var ids in sequences)
            {
                ct.ThrowIfCancellationRequested();
                modalities = ids.Select(id => id >= adapter.BaseVocabulary ? Modality.Image : Modality.Text).ToArray();
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                adapter.Forward(tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Length]));
            }
        }
        finally
        {
            foreach (var block in blocks) block.RoutingObserver = null;
        }
        return statistics;
    }
}
