using Platform.Multimodal.Models.Vq;
using Platform.Multimodal.Training;
using Platform.Multimodal.World;
using static TorchSharp.torch;

namespace Platform.Multimodal.MoeAdapter.Training;

/// <summary>
/// The VQ image tokenizer stage: the VQ-VAE (<see cref="VqTokenizer"/>) on rendered scenes of seen pairs only, half
/// of them with the world's pixel jitter. Loss |x - x'|^2 + beta |z_e - sg(z_q)|^2, codebook by EMA with dead-code
/// restarts. Deterministic: the scenes come from a seeded generator, torch and the restarts from seeded generators.
/// </summary>
public sealed class VqTokenizerStage(MoeTrainOptions options, Action<string> log)
{
    public const string Name = "vq";

    /// <summary>The scenes of every training step, in order (the stage's whole training stream).</summary>
    public static IEnumerable<IReadOnlyList<Scene>> Batches(MoeTrainOptions options)
    {
        var generator = new SceneGenerator(options.Seed + 11);
        var jitter = new Random(options.Seed + 12);
        for (int step = 0; step < options.VqSteps; step++)
            yield return Enumerable.Range(0, options.VqBatch).Select(_ => generator.NextScene(WorldSplit.Seen, jitter: jitter.NextDouble() < options.VqJitter)).ToList();
    }

    public VqTokenizerConfig Config => new()
    {
        GridSize = options.VqGrid, CodebookSize = options.VqCodebook, CodeDim = options.VqCodeDim, HiddenChannels = options.VqChannels,
    };

    public VqTokenizer Train(CancellationToken ct)
    {
        MoeFamilyTrainer.SeedStage(options, Name);
        var vq = new VqTokenizer(Config);
        using var restarts = new Generator((ulong)(options.Seed + 13));
        // Codebook starts on encoder outputs of the first batch (random N(0, 0.1) entries far from them would all be restarted anyway).
        var parameters = vq.encoder.parameters().Concat(vq.decoder.parameters()).ToList();
        using var opt = optim.Adam(parameters, 2e-3);
        vq.train();
        int step = 0;
        foreach (var scenes in Batches(options))
        {
            ct.ThrowIfCancellationRequested();
            using var guard = TrainingSchedule.StepWithoutGc();
            using var scope = NewDisposeScope();
            TrainingSchedule.SetLr(opt, TrainingSchedule.At(2e-3, step, options.VqSteps));
            var images = LmBatch.RenderImages(scenes);
            var (_, reconstruction, commitment, codes) = vq.TrainingForward(images, restarts);
            var loss = reconstruction + vq.Config.CommitmentCost * commitment;
            opt.zero_grad();
            loss.backward();
            opt.step();
            if (step % 100 == 0 || step == options.VqSteps - 1)
            {
                int used = (int)codes.view(-1).unique().Item1.shape[0];
                log($"vq step {step}: recon mse {reconstruction.item<float>():F5}, commitment {commitment.item<float>():F5}, codes in this batch {used}, entries in use {vq.codebook.EntriesInUse()}/{vq.Config.CodebookSize}");
            }
            step++;
        }
        vq.eval();
        var seen = ReconstructionExactRate(vq, WorldSplit.Seen);
        var held = ReconstructionExactRate(vq, WorldSplit.HeldOut);
        log($"vq check (reconstructions read back by the pixel checker, every attribute right): seen {seen:P1}, held-out {held:P1}");
        return vq;
    }

    /// <summary>Fraction of <paramref name="count"/> scenes of <paramref name="split"/> (unjittered, as drawing targets are,
    /// from a seed no training stream uses) whose reconstruction through the codes the pixel checker reads back exactly.
    /// <paramref name="decode"/> replaces the torch decoder (the ONNX one) when given.</summary>
    public static double ReconstructionExactRate(VqTokenizer vq, WorldSplit split, int count = 200, Func<long[], int, float[]>? decode = null, bool jitter = false)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var generator = new SceneGenerator(4343);
        var scenes = Enumerable.Range(0, count).Select(_ => generator.NextScene(split, jitter: jitter)).ToList();
        var codes = vq.Encode(LmBatch.RenderImages(scenes));
        var data = decode is null
            ? vq.Decode(codes).contiguous().data<float>().ToArray()
            : decode(codes.contiguous().data<long>().ToArray(), count);
        int s = WorldSpec.ImageSize, hits = 0;
        for (int i = 0; i < count; i++)
        {
            var rgb = SceneRenderer.FromPlanar(data.AsSpan(i * 3 * s * s, 3 * s * s));
            if (SceneChecker.Check(rgb).SequenceEqual(scenes[i].WithoutJitter().Objects)) hits++;
        }
        return hits / (double)count;
    }
}
