using Microsoft.ML.OnnxRuntime;

namespace Platform.Multimodal.Onnx;

/// <summary>ONNX Runtime session options for the decoders a serving process runs next to the engine and the gateway.</summary>
public static class OnnxSessionSettings
{
    /// <summary>
    /// Options with <paramref name="intraOpThreads"/> intra-op threads (0: ONNX Runtime's default, one per physical
    /// core; 1: the run stays on the calling thread) that never spin-wait for work.
    /// </summary>
    /// <remarks>
    /// By default ONNX Runtime's intra-op workers busy-wait (a <c>pause</c> loop) between runs so that the next one
    /// starts without a wake-up. In the all-in-one host serving image requests one at a time that loop was 43% of the
    /// process's CPU samples (perf, `Platform.Bench multimodal`), on cores the engine's scheduler and the gateway needed;
    /// the decoder runs themselves take a fraction of a millisecond. "session.intra_op.allow_spinning" = "0" makes
    /// idle workers block instead (onnxruntime_session_options_config_keys.h).
    /// </remarks>
    public static SessionOptions Create(int intraOpThreads)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(intraOpThreads);
        var options = new SessionOptions { IntraOpNumThreads = intraOpThreads, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        options.AddSessionConfigEntry("session.inter_op.allow_spinning", "0");
        return options;
    }
}
