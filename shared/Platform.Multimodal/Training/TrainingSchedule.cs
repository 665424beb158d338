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

    public static void SetLr(optim.Optimizer opt, double lr)
    {
        foreach (var g in opt.ParamGroups) g.LearningRate = lr;
    }
}
