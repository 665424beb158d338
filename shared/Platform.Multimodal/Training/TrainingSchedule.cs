using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Multimodal.Training;

/// <summary>The learning-rate schedule every stage uses.</summary>
public static class TrainingSchedule
{
    /// <summary>Linear warm-up then cosine decay to 10%.</summary>
    public static double At(double peak, int step, int total)
    {
        int warm = Math.Max(1, Math.Min(50, total / 10));
        if (step < warm) return peak * (step + 1) / warm;
        double p = (step - warm) / (double)Math.Max(1, total - warm);
        return peak * (0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * p)));
    }

    /// <summary>
    /// Loss weights and other constant factors as Scalars that live as long as the process. An implicit conversion
    /// (<c>loss * 10</c>) makes a Scalar that nothing references once its native handle is passed on, so the GC may
    /// finalize (free) it while libtorch still reads it: a run crashed with "Unknown scalar type" in
    /// <c>Tensor.mul(Scalar)</c> after ~100 decoder steps. The stages' per-step factors use these instead.
    /// </summary>
    public static Scalar Constant(double value)
    {
        lock (Constants)
        {
            if (!Constants.TryGetValue(value, out var scalar)) Constants[value] = scalar = value.ToScalar();
            return scalar;
        }
    }

    private static readonly Dictionary<double, Scalar> Constants = [];

    /// <summary>Seeds torch at the start of a stage, so a stage trained alone starts from the same state as in a full run.</summary>
    public static void SeedStage(TrainOptions options, string stage) => manual_seed(options.Seed + 100 * (FamilyTrainer.Stages.ToList().IndexOf(stage) + 1));

    public static void SetLr(optim.Optimizer opt, double lr)
    {
        foreach (var g in opt.ParamGroups) g.LearningRate = lr;
    }
}
