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
    /// A training step without garbage collection inside it. TorchSharp's implicit Scalars (<c>loss * 10</c>, the
    /// alpha of every <c>a + b</c>) are unreferenced once their native handle is passed on, so a collection during
    /// the native call may finalize (free) one while libtorch reads it: runs crashed with "Unknown scalar type" in
    /// <c>Tensor.mul(Scalar)</c> and a failed check in <c>Scalar::toFloat</c> from <c>Tensor.add</c> after 100-300
    /// decoder steps, once the 64x64 batches' large-object allocations made collections frequent. Collecting only
    /// between steps (this region reserves room for a step's allocations) closes that window; a step that outgrows
    /// it ends the region early and is no worse off than before.
    /// </summary>
    public static IDisposable StepWithoutGc(long bytes = 200L * 1024 * 1024) => new NoGcRegion(bytes);

    private sealed class NoGcRegion : IDisposable
    {
        private readonly bool _started;

        public NoGcRegion(long bytes)
        {
            try { _started = System.Runtime.GCSettings.LatencyMode != System.Runtime.GCLatencyMode.NoGCRegion && GC.TryStartNoGCRegion(bytes); }
            catch (ArgumentOutOfRangeException) { _started = false; }
            catch (InvalidOperationException) { _started = false; }
        }

        public void Dispose()
        {
            if (_started && System.Runtime.GCSettings.LatencyMode == System.Runtime.GCLatencyMode.NoGCRegion) GC.EndNoGCRegion();
        }
    }

    /// <summary>Seeds torch at the start of a stage, so a stage trained alone starts from the same state as in a full run.</summary>
    public static void SeedStage(TrainOptions options, string stage) => manual_seed(options.Seed + 100 * (FamilyTrainer.Stages.ToList().IndexOf(stage) + 1));

    public static void SetLr(optim.Optimizer opt, double lr)
    {
        foreach (var g in opt.ParamGroups) g.LearningRate = lr;
    }
}
