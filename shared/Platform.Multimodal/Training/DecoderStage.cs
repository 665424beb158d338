using Platform.Multimodal.Models;
using Platform.Multimodal.World;
using static TorchSharp.torch;

namespace Platform.Multimodal.Training;

/// <summary>Stage 1: the image decoder and its condition encoder, on rendered scenes (pixels + per-object masks).</summary>
public sealed class DecoderStage(TrainOptions options, Action<string> log)
{
    /// <summary>The scenes of every training step, in order (the decoder's whole training stream).</summary>
    public static IEnumerable<IReadOnlyList<Scene>> Batches(TrainOptions options)
    {
        var generator = new SceneGenerator(options.Seed + 1);
        for (int step = 0; step < options.DecoderSteps; step++)
            yield return Enumerable.Range(0, options.ImageBatch).Select(_ => generator.NextScene(jitter: false)).ToList();
    }

    public void Train(ConditionEncoder encoder, ImageDecoder decoder, CancellationToken ct)
    {
        TrainingSchedule.SeedStage(options, "decoder");
        var parameters = encoder.parameters().Concat(decoder.parameters());
        using var opt = optim.Adam(parameters, 1e-2);
        int slots = decoder.Config.ConditionSlots, step = 0;
        foreach (var scenes in Batches(options))
        {
            ct.ThrowIfCancellationRequested();
            using var guard = TrainingSchedule.StepWithoutGc();
            using var scope = NewDisposeScope();
            TrainingSchedule.SetLr(opt, TrainingSchedule.At(1e-2, step, options.DecoderSteps));
            // Gaussian noise on the conditioning: the decoder later reads the mapper's estimate of it (a regressing mapper had MSE ~0.15
            // per dimension), and a decoder trained only on exact points flipped shapes and sizes under that error.
            var conditioning = encoder.forward(ConditionEncoder.Attributes(scenes, slots));
            var (image, logits) = decoder.Forward(conditioning + 0.4 * randn_like(conditioning));
            var pixelLoss = nn.functional.mse_loss(image, LmBatch.RenderImages(scenes));
            var maskLoss = nn.functional.binary_cross_entropy_with_logits(logits, Masks(scenes, slots));
            var loss = pixelLoss * 10 + maskLoss;
            opt.zero_grad();
            loss.backward();
            opt.step();
            if (step % 100 == 0 || step == options.DecoderSteps - 1)
                log($"decoder step {step}: pixel mse {pixelLoss.item<float>():F5}, mask bce {maskLoss.item<float>():F4}");
            step++;
        }
        log($"decoder check (exact scenes by the pixel checker): seen {DecoderExactRate(encoder, decoder, WorldSplit.Seen):P1}, held-out {DecoderExactRate(encoder, decoder, WorldSplit.HeldOut):P1}");
    }

    private static Tensor Masks(IReadOnlyList<Scene> scenes, int slots)
    {
        int s = WorldSpec.ImageSize;
        var data = new float[scenes.Count * slots * s * s];
        for (int i = 0; i < scenes.Count; i++)
            for (int q = 0; q < Math.Min(slots, scenes[i].Objects.Count); q++)
            {
                var o = scenes[i].Objects[q];
                int cx = WorldSpec.CellCentres[o.Column] + scenes[i].JitterX, cy = WorldSpec.CellCentres[o.Row] + scenes[i].JitterY, h = WorldSpec.HalfExtent(o.Size);
                for (int y = Math.Max(0, cy - h); y <= Math.Min(s - 1, cy + h); y++)
                    for (int x = Math.Max(0, cx - h); x <= Math.Min(s - 1, cx + h); x++)
                        if (SceneRenderer.Inside(o.Shape, x - cx, y - cy, h)) data[((i * slots + q) * s + y) * s + x] = 1f;
            }
        return tensor(data, [scenes.Count, slots, s, s]);
    }

    /// <summary>Fraction of scenes the hand-written checker reads back exactly from the decoder's image of their true conditioning.</summary>
    public static double DecoderExactRate(ConditionEncoder encoder, ImageDecoder decoder, WorldSplit split, int count = 200)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var generator = new SceneGenerator(4242);
        var scenes = Enumerable.Range(0, count).Select(_ => generator.NextScene(split, jitter: false)).ToList();
        var images = decoder.forward(encoder.forward(ConditionEncoder.Attributes(scenes, decoder.Config.ConditionSlots)));
        int s = WorldSpec.ImageSize, hits = 0;
        var data = images.contiguous().data<float>().ToArray();
        for (int i = 0; i < count; i++)
        {
            var rgb = SceneRenderer.FromPlanar(data.AsSpan(i * 3 * s * s, 3 * s * s));
            if (SceneChecker.Check(rgb).SequenceEqual(scenes[i].Objects)) hits++;
        }
        return hits / (double)count;
    }
}
