using Platform.Inference.Models.Llama;
using Platform.Multimodal.Models;
using Platform.Multimodal.World;
using static TorchSharp.torch;

namespace Platform.Multimodal.Training;

/// <summary>Stage 5: GILL's mapper, retrieval head and decision classifier on the frozen LM's [IMG] states of seen
/// drawing and picture requests (canonical and paraphrased). The mapper and the decision classifier start afresh here
/// (the LM stage trained them jointly with the LM, to shape the [IMG] states), so this stage alone on a folder gives
/// what the full run gives; the mapper now reads the words before each picture beside its [IMG] tokens
/// (<see cref="Models.MultimodalConfig.MapperContext"/>), where the LM stage gave it the [IMG] rows alone.</summary>
public sealed class GillHeadsStage(TrainOptions options, Action<string> log)
{
    /// <summary>The conversations whose [IMG] states train the heads (their whole training stream): drawing
    /// instructions and requests, follow-up edits (a picture in the history, then "now make it green": the [IMG] states
    /// of the edited picture attend to the earlier one, and the mapper must draw what the answer restates, not what
    /// the history showed) and retrievals.</summary>
    public static List<WorldDialogue> Dialogues(TrainOptions options)
    {
        var generator = new SceneGenerator(options.Seed + 5);
        return Enumerable.Range(0, options.HeadExamples).Select(i => (i % 8) switch
        {
            0 => generator.Instruction(),
            2 => generator.Request(),
            4 => (i / 8) % 2 == 0 ? generator.Instruction() : generator.Request(),
            6 => generator.FollowUp(kind: (SceneGenerator.FollowUpKind)((i / 8) % 4)),
            _ => generator.Retrieval(),
        }).ToList();
    }

    /// <summary>The mapper's loss: cross entropy per attribute plus a small MSE of the resulting conditioning to the
    /// target (it weighs a wrong value by how far its embedding is from the right one in the decoder's space).</summary>
    private static Tensor MapperLoss(MultimodalHeads heads, Tensor logits, Tensor attributes, Tensor targetConditioning) =>
        ConditionEncoder.AttributeLoss(logits, attributes) + 0.1 * nn.functional.mse_loss(heads.condition_encoder.FromLogits(logits), targetConditioning);

    /// <summary>Teacher-forced mapper memory of the last picture of each conversation (the LM is frozen, as in GILL):
    /// the words before it and its [IMG] tokens (<see cref="MapperMemory"/>).</summary>
    public static (Tensor Hidden, Tensor Embeds, Tensor Keep) ImageSlotStates(LlamaForCausalLM lm, MultimodalHeads heads, IReadOnlyList<EncodedDialogue> batch, int context)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (embeds, _, ids) = LmBatch.Build(batch, lm, heads);
        long b = embeds.shape[0], t = embeds.shape[1];
        var output = lm.Forward(new LlamaInputs { InputsEmbeds = embeds, HiddenStatePositions = arange(t).view(1, t).expand(b, t), SkipLogits = true });
        var (hidden, slotEmbeds, keep) = MapperMemory.Gather(output.HiddenStates!, embeds, MapperMemory.Pictures(batch, lastOnly: true), context, heads.Config.ImageTokens);
        return (hidden.MoveToOuterDisposeScope(), slotEmbeds.MoveToOuterDisposeScope(), keep.MoveToOuterDisposeScope());
    }

    /// <summary>The mapper's attribute predictions from teacher-forced [IMG] states of drawing instructions (the LM
    /// restates the request correctly here, so this isolates the [IMG] states + mapper): the fraction of scenes
    /// with every attribute of every slot right, and per attribute the fraction of slots right. A diagnostic only.</summary>
    public static (double Exact, double[] PerAttribute) MapperAccuracy(LlamaForCausalLM lm, MultimodalHeads heads, DemoChat chat, WorldSplit split, int context, int count = 256)
    {
        var generator = new SceneGenerator(4444);
        var dialogues = Enumerable.Range(0, count).Select(_ => generator.Instruction(split)).ToList();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (hidden, embeds, keep) = ImageSlotStates(lm, heads, dialogues.Select(d => chat.Encode(d.Turns)).ToList(), context);
        var predicted = ConditionEncoder.Predict(heads.mapper.Forward(hidden, embeds, keep));
        var hits = predicted.eq(ConditionEncoder.Attributes(dialogues.Select(d => d.Turns[^1].OutputScene!).ToList(), heads.Config.ConditionSlots));
        double exact = hits.flatten(1).all(1).to_type(ScalarType.Float32).mean().item<float>();
        return (exact, hits.to_type(ScalarType.Float32).mean([0, 1]).data<float>().Select(v => (double)v).ToArray());
    }

    /// <summary>Logs <see cref="MapperAccuracy"/> on seen and design held-out pairs, the mapper reading
    /// <paramref name="context"/> words before the [IMG] tokens (0 in the LM stage, which trains it so).</summary>
    public static void LogMapperAccuracy(Action<string> log, string stage, LlamaForCausalLM lm, MultimodalHeads heads, DemoChat chat, int context)
    {
        foreach (var split in new[] { WorldSplit.Seen, WorldSplit.HeldOut })
        {
            var (exact, perAttribute) = MapperAccuracy(lm, heads, chat, split, context);
            log($"mapper check after {stage} ({split}): all attributes {exact:P1}; colour/shape/size/row/column {string.Join(" / ", perAttribute.Select(a => a.ToString("P1")))}");
        }
    }

    public void Train(LlamaForCausalLM lm, MultimodalHeads heads, DemoChat chat, CancellationToken ct)
    {
        TrainingSchedule.SeedStage(options, "heads");
        using (var fresh = new GillMapper(heads.Config)) heads.mapper.load_state_dict(fresh.state_dict());
        using (var fresh = new DecisionHead(heads.Config)) heads.decision.load_state_dict(fresh.state_dict());
        int n = options.HeadExamples, slots = heads.Config.ConditionSlots;
        var dialogues = Dialogues(options);
        var hiddenParts = new List<Tensor>();
        var embedParts = new List<Tensor>();
        var keepParts = new List<Tensor>();
        for (int i = 0; i < n; i += 64)
        {
            using var guard = TrainingSchedule.StepWithoutGc();
            var chunk = dialogues.Skip(i).Take(64).Select(d => chat.Encode(d.Turns)).ToList();
            var (h, e, k) = ImageSlotStates(lm, heads, chunk, heads.Config.MapperContext);
            hiddenParts.Add(h);
            embedParts.Add(e);
            keepParts.Add(k);
        }
        using var hidden = cat(hiddenParts, 0);
        using var slotEmbeds = cat(embedParts, 0);
        using var keep = cat(keepParts, 0);
        using var imgHidden = MapperMemory.ImageRows(hidden, heads.Config.ImageTokens).contiguous();
        hiddenParts.ForEach(t => t.Dispose());
        embedParts.ForEach(t => t.Dispose());
        keepParts.ForEach(t => t.Dispose());
        var scenes = dialogues.Select(d => d.Turns[^1].OutputScene!).ToList();
        using var isRetrieve = tensor(dialogues.Select(d => d.Turns[^1].Retrieve ? 1L : 0L).ToArray());
        Tensor targets, imageLatents;
        var attributes = ConditionEncoder.Attributes(scenes, slots);
        using (no_grad())
        {
            targets = heads.condition_encoder.forward(attributes);
            imageLatents = heads.ImageLatent(LmBatch.RenderImages(scenes));
        }
        log($"gill heads: {n} [IMG] states collected");

        var parameters = heads.mapper.parameters().Concat(heads.retrieval.parameters()).Concat(heads.decision.parameters());
        using var opt = optim.AdamW(parameters, 1e-3, weight_decay: 0.01);
        var random = new Random(options.Seed + 6);
        int batchSize = Math.Min(64, n);
        for (int step = 0; step < options.HeadSteps; step++)
        {
            ct.ThrowIfCancellationRequested();
            using var guard = TrainingSchedule.StepWithoutGc();
            using var scope = NewDisposeScope();
            TrainingSchedule.SetLr(opt, TrainingSchedule.At(1e-3, step, options.HeadSteps));
            var index = tensor(Enumerable.Range(0, batchSize).Select(_ => (long)random.Next(n)).ToArray());
            var h = imgHidden.index_select(0, index);
            var gen = isRetrieve.index_select(0, index).eq(0);
            // GILL trains the mapper on generation examples only (there: MSE to the decoder's text-encoder output).
            var genIndex = index.masked_select(gen);
            var mapLoss = genIndex.numel() == 0 ? zeros(1).sum() : MapperLoss(heads, heads.mapper.Forward(hidden.index_select(0, genIndex), slotEmbeds.index_select(0, genIndex), keep.index_select(0, genIndex)),
                attributes.index_select(0, genIndex), targets.index_select(0, genIndex));
            var text = heads.retrieval.EmbedText(h);
            var image = heads.retrieval.EmbedImage(imageLatents.index_select(0, index));
            var logits = heads.retrieval.logit_scale.exp().clamp_max(100) * text.matmul(image.t());
            var labels = arange(batchSize);
            var retrievalLoss = (nn.functional.cross_entropy(logits, labels) + nn.functional.cross_entropy(logits.t(), labels)) / 2;
            var decisionLoss = nn.functional.cross_entropy(heads.decision.forward(h[.., 0]), isRetrieve.index_select(0, index));
            var loss = mapLoss + retrievalLoss + decisionLoss;
            opt.zero_grad();
            loss.backward();
            opt.step();
            if (step % 100 == 0 || step == options.HeadSteps - 1)
                log($"gill heads step {step}: mapper loss {mapLoss.item<float>():F5}, retrieval {retrievalLoss.item<float>():F4}, decision {decisionLoss.item<float>():F4}");
        }
        targets.Dispose();
        imageLatents.Dispose();
        attributes.Dispose();
        LogMapperAccuracy(log, "gill heads stage", lm, heads, chat, heads.Config.MapperContext);
    }

}
