using TorchSharp;

namespace Platform.Inference.Engine.Scheduling;

/// <summary>
/// Torch's intra-op thread count per engine: each engine sets its own on its scheduler thread, where all its forward
/// passes run (<see cref="Runtime.TorchThreads"/>); the span kernels read the same count there. Torch's lazy per-thread
/// initialisation would give an engine left at 0 whatever another engine set last, so 0 means the count torch had
/// when the process's first engine started.
/// </summary>
internal static class EngineThreads
{
    private static readonly Lazy<int> ProcessDefault = new(torch.get_num_threads, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The count an engine left at 0 runs with; read by every engine's constructor, so the first one fixes
    /// it before any scheduler thread has set a count of its own.</summary>
    public static int Default => ProcessDefault.Value;

    /// <summary>The count an engine configured with <paramref name="configured"/> (0 = <see cref="Default"/>) runs with.
    /// Reads <see cref="Default"/> whatever the setting, so the first engine fixes it before its thread sets a count.</summary>
    public static int Resolve(int configured)
    {
        int fallback = Default;
        return configured > 0 ? configured : fallback;
    }
}
