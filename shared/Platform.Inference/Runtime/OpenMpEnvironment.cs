using System.Runtime.InteropServices;

namespace Platform.Inference.Runtime;

/// <summary>
/// OpenMP settings for libtorch's libgomp (and llama.cpp's, in the benchmark), applied to the native process
/// environment before the native libraries load: libgomp reads its environment once, in its constructor.
/// </summary>
/// <remarks>
/// Why: a decode step runs ~150 small OpenMP parallel regions (GEMVs, the attention bmm/softmax). libgomp's
/// default makes an idle worker spin up to 300,000 iterations before sleeping. On a shared or CPU-limited host
/// (this project's 2-core machines, Kubernetes CPU quotas) a spinning worker steals the time slice its partner
/// needs and each region can wait a full scheduler quantum: measured here, scaled_dot_product_attention on a
/// [1,3,3,64] x [1,3,300,64] decode problem took 0.6-11 ms with 2 threads against ~0.05 ms with 1, and a
/// SmolLM-135M decode step burned 230 ms of CPU against 64 ms with a short spin. A short spin (10,000)
/// keeps the hand-off fast on a quiet machine and stops the waste on a busy one.
/// Must run before the first TorchSharp call; values the user already set are kept.
/// .NET's Environment.SetEnvironmentVariable does not reach native getenv on Unix, hence libc setenv.
/// </remarks>
public static class OpenMpEnvironment
{
    public const string SpinCount = "10000";

    /// <summary>Sets GOMP_SPINCOUNT unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is already set. Returns what was set.</summary>
    public static string? ApplyDefaults()
    {
        if (!OperatingSystem.IsLinux()) return null;
        if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null || Environment.GetEnvironmentVariable("GOMP_SPINCOUNT") is not null)
            return null;
        return setenv("GOMP_SPINCOUNT", SpinCount, 0) == 0 ? $"GOMP_SPINCOUNT={SpinCount}" : null;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int setenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);
}
