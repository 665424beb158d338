using static TorchSharp.torch;

namespace Platform.Inference.Models.Moe;

/// <summary>
/// The router of every sparse block here, as the reference computes it (modeling_mixtral.py / modeling_olmoe.py /
/// modeling_qwen2_moe.py SparseMoeBlock.forward): router logits (a Linear without bias), softmax in float32 over
/// all experts, the top-k probabilities, divided by their sum when the family says so.
/// </summary>
public static class MoeRouting
{
    /// <summary>Routing weights [N, k] (float32) and expert ids [N, k] (int64, by descending probability) for router logits [N, E].</summary>
    public static (Tensor Weights, Tensor Experts) Route(Tensor routerLogits, int topK, bool renormalize)
    {
        using var scope = NewDisposeScope();
        var probabilities = nn.functional.softmax(routerLogits, 1, ScalarType.Float32);
        var (weights, experts) = probabilities.topk(topK, 1);
        if (renormalize) weights = weights / weights.sum(1, keepdim: true);
        return (weights.MoveToOuterDisposeScope(), experts.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// One row's routing on spans: softmax of <paramref name="logits"/> [E] into <paramref name="probabilities"/>,
    /// the <paramref name="topK"/> largest (ties to the lower expert id) into <paramref name="experts"/> and
    /// <paramref name="weights"/>, divided by their sum when <paramref name="renormalize"/>.
    /// </summary>
    public static void RouteRow(ReadOnlySpan<float> logits, Span<float> probabilities, int topK, bool renormalize, Span<int> experts, Span<float> weights)
    {
        if (probabilities.Length != logits.Length || experts.Length != topK || weights.Length != topK || topK > logits.Length)
            throw new ArgumentException("routing buffers do not match the expert count and top-k");
        System.Numerics.Tensors.TensorPrimitives.SoftMax(logits, probabilities);
        for (int j = 0; j < topK; j++)
        {
            int best = -1;
            for (int e = 0; e < probabilities.Length; e++)
            {
                if (experts[..j].Contains(e)) continue;
                if (best < 0 || probabilities[e] > probabilities[best]) best = e;
            }
            experts[j] = best;
            weights[j] = probabilities[best];
        }
        if (renormalize)
        {
            float sum = 0;
            for (int j = 0; j < topK; j++) sum += weights[j];
            for (int j = 0; j < topK; j++) weights[j] /= sum;
        }
    }
}
