using Platform.Inference.Engine;
using Platform.Inference.Models.Llama;
using Platform.Multimodal.Training;
using Platform.Multimodal.World;
using static TorchSharp.torch;

namespace Platform.Multimodal.Evaluation;

/// <summary>The answer to one prompt: text (special tokens kept) and the GILL slot when [IMG0] was produced.</summary>
public sealed record GreedyAnswer(string Text, ImageSlot? Slot);

/// <summary>
/// Greedy decoding for the evaluation, recomputing the whole (short) sequence each step through the same
/// LlamaForCausalLM forward as training, with visual tokens spliced in. On [IMG0] it appends [IMG1..r-1] and
/// reports their last-layer hidden states and input embeddings, as the serving engine does.
/// </summary>
public sealed class GreedyDecoder(LlamaForCausalLM lm, MultimodalHeads heads, DemoChat chat, int maxNewTokens = 48)
{
    public GreedyAnswer Answer(IReadOnlyList<WorldTurn> promptTurns)
    {
        var prompt = chat.Encode(promptTurns, addGenerationPrompt: true);
        var ids = prompt.Ids.ToList();
        var generated = new List<int>();
        int r = heads.Config.ImageTokens;
        for (int step = 0; step < maxNewTokens; step++)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var (embeds, _, _) = LmBatch.Build([prompt with { Ids = ids.ToArray(), Loss = new bool[ids.Count] }], lm, heads.visual_encoder, heads.visual_projection);
            var last = tensor(new long[] { ids.Count - 1 }, [1, 1]);
            int next = (int)lm.Forward(new LlamaInputs { InputsEmbeds = embeds, LogitPositions = last }).Logits!.argmax(-1).item<long>();
            if (next == chat.ImEnd) break;
            if (next == chat.Img0)
            {
                int start = ids.Count;
                for (int k = 0; k < r; k++) ids.Add(chat.Img0 + k);
                generated.AddRange(ids.Skip(start));
                var (full, _, _) = LmBatch.Build([prompt with { Ids = ids.ToArray(), Loss = new bool[ids.Count] }], lm, heads.visual_encoder, heads.visual_projection);
                var positions = tensor(Enumerable.Range(start, r).Select(i => (long)i).ToArray(), [1, r]);
                var hidden = lm.Forward(new LlamaInputs { InputsEmbeds = full, HiddenStatePositions = positions, SkipLogits = true }).HiddenStates!;
                var slotEmbeds = full.gather(1, positions.unsqueeze(-1).expand(-1, -1, full.shape[2]));
                int h = (int)full.shape[2];
                var slot = new ImageSlot(r, h, hidden.data<float>().ToArray(), slotEmbeds.contiguous().data<float>().ToArray());
                return new GreedyAnswer(chat.Tokenizer.Decode(generated), slot);
            }
            ids.Add(next);
            generated.Add(next);
        }
        return new GreedyAnswer(chat.Tokenizer.Decode(generated), null);
    }
}
