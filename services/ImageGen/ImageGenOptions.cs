using System.ComponentModel.DataAnnotations;

namespace ImageGen;

/// <summary>Settings of the image service, section "ImageGen".</summary>
public sealed class ImageGenOptions
{
    public const string Section = "ImageGen";

    /// <summary>Registry names (Models:{name}) whose folders hold the multimodal parts; empty serves every entry with
    /// Multimodal = true. None at all: the service runs idle (e.g. a gateway that serves text models only).</summary>
    public string[] Models { get; set; } = [];

    /// <summary>Where the ONNX decoder runs: "cpu" or "cuda" / "cuda:N" (the encoder and heads run on the CPU).</summary>
    [RegularExpression("^(cpu|cuda(:[0-9]+)?)$", ErrorMessage = "ImageGen:DecoderDevice must be 'cpu', 'cuda' or 'cuda:N'.")]
    public string DecoderDevice { get; set; } = "cpu";

    /// <summary>Largest input image file accepted for encoding.</summary>
    [Range(1, int.MaxValue)] public int MaxImageBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>Largest input image in pixels (width x height), checked on the header before decoding.</summary>
    [Range(1, long.MaxValue)] public long MaxImagePixels { get; set; } = 4096L * 4096L;

    /// <summary>Messages one instance takes at once per model queue. They wait for the model's batch worker (see
    /// <see cref="MaxBatchSize"/>), so this bounds how many requests can share a batch.</summary>
    [Range(1, 1024)] public int MaxConcurrentRequests { get; set; } = 32;

    /// <summary>Most input images, or most [IMG] slots, in one batched forward of a model.</summary>
    [Range(1, 1024)] public int MaxBatchSize { get; set; } = 16;

    /// <summary>How long a model's batch worker waits after a batch's first request for more; 0 (default): a batch is
    /// what arrived while the previous one ran, so a request alone never waits.</summary>
    [Range(0, 1000)] public double BatchWindowMilliseconds { get; set; }

    /// <summary>Intra-op threads of the image side's forwards: torch's on each model's batch worker threads and ONNX
    /// Runtime's in the decoder; 0 leaves each library's default (one per physical core). Default 1: the forwards are
    /// small (the demo model's whole slot batch is about a millisecond) and run beside the text engine's own threads
    /// and the gateway, so a second thread team per stage mostly waits for cores the other stages hold.</summary>
    [Range(0, 1024)] public int Threads { get; set; } = 1;
}
