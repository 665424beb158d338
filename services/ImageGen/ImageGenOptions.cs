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

    /// <summary>Messages one instance works on at once per model queue.</summary>
    [Range(1, 256)] public int MaxConcurrentRequests { get; set; } = 4;
}
