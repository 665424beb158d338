using Platform.Multimodal.Models;
using Platform.Multimodal.World;
using static TorchSharp.torch;

namespace Platform.Multimodal.Training;

/// <summary>Stage 2: the visual encoder classifies each object's attributes in a jittered image (cross entropy).</summary>
public sealed class VisualEncoderStage(TrainOptions options, Action<string> log)
{
    /// <summary>The scenes of every training step, in order (the visual encoder's whole training stream).</summary>
    public static IEnumerable<IReadOnlyList<Scene>> Batches(TrainOptions options)
    {
        var generator = new SceneGenerator(options.Seed + 2);
        for (int step = 0; step < options.VisualSteps; step++)
            yield return Enumerable.Range(0, options.ImageBatch).Select(_ => generator.NextScene()).ToList();
    }

    public void Train(MultimodalHeads heads, CancellationToken ct)
    {
        TrainingSchedule.SeedStage(options, "visual");
        using var opt = optim.Adam(heads.visual_encoder.parameters(), 2e-3);
        int slots = heads.Config.ConditionSlots, step = 0;
        foreach (var scenes in Batches(options))
        {
            ct.ThrowIfCancellationRequested();
            using var guard = TrainingSchedule.StepWithoutGc();
            using var scope = NewDisposeScope();
            TrainingSchedule.SetLr(opt, TrainingSchedule.At(2e-3, step, options.VisualSteps));
            var loss = ConditionEncoder.AttributeLoss(heads.visual_encoder.forward(LmBatch.RenderImages(scenes)), ConditionEncoder.Attributes(scenes, slots));
            opt.zero_grad();
            loss.backward();
            opt.step();
            if (step % 100 == 0 || step == options.VisualSteps - 1) log($"visual encoder step {step}: attribute cross entropy {loss.item<float>():F5}");
            step++;
        }
        foreach (var split in new[] { WorldSplit.Seen, WorldSplit.HeldOut })
        {
            var (exact, perAttribute) = VisualAccuracy(heads.visual_encoder, split);
            log($"visual encoder check ({split}): all attributes of all slots {exact:P1}; colour/shape/size/row/column {string.Join(" / ", perAttribute.Select(a => a.ToString("P1")))}");
        }
    }

    /// <summary>On jittered scenes: the fraction whose attributes (all slots) the visual encoder predicts exactly, and
    /// per attribute the fraction of slots it gets right.</summary>
    public static (double Exact, double[] PerAttribute) VisualAccuracy(VisualEncoder encoder, WorldSplit split, int count = 300)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var generator = new SceneGenerator(4343);
        var scenes = Enumerable.Range(0, count).Select(_ => generator.NextScene(split)).ToList();
        var predicted = ConditionEncoder.Predict(encoder.forward(LmBatch.RenderImages(scenes)));
        var hits = predicted.eq(ConditionEncoder.Attributes(scenes, (int)predicted.shape[1]));
        double exact = hits.flatten(1).all(1).to_type(ScalarType.Float32).mean().item<float>();
        var perAttribute = hits.to_type(ScalarType.Float32).mean([0, 1]).data<float>().Select(v => (double)v).ToArray();
        return (exact, perAttribute);
    }
}
