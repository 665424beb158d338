using TorchSharp;

namespace Platform.Inference.Runtime;

/// <summary>
/// Torch's intra-op thread count of the calling OS thread. The count belongs to the thread (OpenMP's nthreads ICV and
/// MKL's thread-local setting, both of which at::set_num_threads sets), so a component whose forwards all run on one
/// thread of its own (an engine's scheduler, an image batch worker) sets its count there, and a process-wide call
/// would let the last one started decide for all. The trap: torch initialises a thread's count lazily, on the
/// thread's first call, by copying the last value set on any thread, over whatever was set before; so get, then set.
/// </summary>
public static class TorchThreads
{
    /// <summary>Sets <paramref name="threads"/> on the calling thread and returns what torch reports there.</summary>
    public static int SetForCurrentThread(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        _ = torch.get_num_threads();
        torch.set_num_threads(threads);
        return torch.get_num_threads();
    }
}
