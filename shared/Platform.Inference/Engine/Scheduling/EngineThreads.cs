using TorchSharp;

namespace Platform.Inference.Engine.Scheduling;

/// <summary>
/// Torch's intra-op thread count per engine. The count belongs to the calling OS thread (OpenMP's nthreads ICV and
/// MKL's thread-local setting, both of which at::set_num_threads sets), so each engine sets its own on its scheduler
/// thread, where all its forward passes run; the span kernels read the same count there. A process-wide call would
/// let the last engine loaded decide for all. Two traps: torch initialises a thread's count lazily, on its first
/// call, by copying the last value set on any thread (so get first, then set); and that copy would give an engine
/// left at 0 whatever another engine set, so 0 means the count torch had when the process's first engine started.
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

    /// <summary>Sets <paramref name="threads"/> on the calling thread and returns what torch reports there.</summary>
    public static int ApplyToCurrentThread(int threads)
    {
        _ = torch.get_num_threads();
        torch.set_num_threads(threads);
        return torch.get_num_threads();
    }
}
