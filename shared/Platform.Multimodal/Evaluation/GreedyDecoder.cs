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
        var generated = new List<int>();
        int r = heads.Config.ImageTokens;
        using var outer = NewDisposeScope();
        using var _ = no_grad();
        // The prompt (with its visual tokens) is embedded once; each new token's embedding is appended.
        var (embeds, _, _) = LmBatch.Build([prompt], lm, heads);
        Tensor Append(Tensor e, IEnumerable<int> ids) =>
            cat([e, lm.model.embed_tokens.forward(tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Count()]))], 1);
        for (int step = 0; step < maxNewTokens; step++)
        {
            using var scope = NewDisposeScope();
            long t = embeds.shape[1];
            var last = tensor(new long[] { t - 1 }, [1, 1]);
            int next = (int)lm.Forward(new LlamaInputs { InputsEmbeds = embeds, LogitPositions = last }).Logits!.argmax(-1).item<long>();
            if (next == chat.ImEnd) break;
            if (next == chat.Img0)
            {
                var slotIds = Enumerable.Range(chat.Img0, r).ToList();
                generated.AddRange(slotIds);
                var full = Append(embeds, slotIds);
                var positions = tensor(Enumerable.Range((int)t, r).Select(i => (long)i).ToArray(), [1, r]);
                var hidden = lm.Forward(new LlamaInputs { InputsEmbeds = full, HiddenStatePositions = positions, SkipLogits = true }).HiddenStates!;
                var slotEmbeds = full.gather(1, positions.unsqueeze(-1).expand(-1, -1, full.shape[2]));
                int h = (int)full.shape[2];
                var slot = new ImageSlot(r, h, hidden.contiguous().data<float>().ToArray(), slotEmbeds.contiguous().data<float>().ToArray());
                return new GreedyAnswer(chat.Tokenizer.Decode(generated), slot);
            }
            generated.Add(next);
            embeds = Append(embeds, [next]).MoveToOuterDisposeScope();
        }
        return new GreedyAnswer(chat.Tokenizer.Decode(generated), null);
    }
}
