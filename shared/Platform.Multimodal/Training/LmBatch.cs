using Platform.Multimodal.Models;
using Platform.Multimodal.World;
using Platform.Inference.Models.Llama;
using static TorchSharp.torch;

namespace Platform.Multimodal.Training;

/// <summary>Builds the LM's input embeddings for a batch of encoded conversations: token embeddings with the
/// projected visual tokens spliced in at each image's positions (GILL's input side), right-padded.</summary>
public static class LmBatch
{
    public static Tensor RenderImages(IReadOnlyList<Scene> scenes)
    {
        int s = WorldSpec.ImageSize;
        var data = new float[scenes.Count * 3 * s * s];
        for (int i = 0; i < scenes.Count; i++)
            SceneRenderer.ToPlanar(SceneRenderer.Render(scenes[i])).CopyTo(data, i * 3 * s * s);
        return tensor(data, [scenes.Count, 3, s, s]);
    }

    /// <summary>Returns embeddings [B, T, H] of each dialogue's <see cref="EncodedDialogue.Inputs"/> (its ids unless
    /// the training stream changed what the LM reads), labels [B, T] from its ids (-100 where no loss) and the
    /// input ids [B, T] (pad 0).</summary>
    public static (Tensor Embeds, Tensor Labels, Tensor Ids) Build(IReadOnlyList<EncodedDialogue> batch, LlamaForCausalLM lm, MultimodalHeads heads)
    {
        int b = batch.Count, t = batch.Max(d => d.Ids.Length);
        long h = lm.Config.HiddenSize;
        var ids = new long[b * t];
        var labels = new long[b * t];
        Array.Fill(labels, -100L);
        var scenes = new List<Scene>();
        var rows = new List<long>();
        for (int i = 0; i < b; i++)
        {
            var d = batch[i];
            var inputs = d.Inputs ?? d.Ids;
            for (int j = 0; j < d.Ids.Length; j++)
            {
                ids[i * t + j] = Math.Max(inputs[j], 0);
                if (d.Loss[j]) labels[i * t + j] = d.Ids[j];
            }
            for (int k = 0; k < d.Images.Count; k++)
            {
                scenes.Add(d.Images[k]);
                for (int v = 0; v < heads.Config.VisualTokens; v++) rows.Add(i * t + d.ImageStarts[k] + v);
            }
        }
        var idTensor = tensor(ids, [b, t]);
        var embeds = lm.model.embed_tokens.forward(idTensor);
        if (scenes.Count > 0)
        {
            // The visual encoder is trained before the LM and frozen; the projection learns with the LM.
            Tensor logits;
            using (no_grad()) logits = heads.visual_encoder.forward(RenderImages(scenes));
            var visual = heads.visual_projection.forward(logits).reshape(-1, h);
            embeds = embeds.reshape(-1, h).index_copy(0, tensor(rows.ToArray()), visual).reshape(b, t, h);
        }
        return (embeds, tensor(labels, [b, t]), idTensor);
    }
}
