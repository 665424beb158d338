using System.ComponentModel.DataAnnotations;

namespace Gateway;

/// <summary>Settings of the HTTP edge, section "Gateway".</summary>
public sealed class GatewayOptions
{
    public const string Section = "Gateway";

    /// <summary>Largest accepted request body; larger ones get 413.</summary>
    [Range(1024, int.MaxValue)] public int MaxRequestBodyBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>Largest decoded input image.</summary>
    [Range(1, int.MaxValue)] public int MaxImageBytes { get; set; } = 8 * 1024 * 1024;

    [Range(0, 64)] public int MaxImagesPerRequest { get; set; } = 8;

    /// <summary>Largest accepted "n" (choices per request).</summary>
    [Range(1, 128)] public int MaxChoices { get; set; } = 8;

    /// <summary>Stop sequences per request (OpenAI allows 4).</summary>
    [Range(0, 64)] public int MaxStopSequences { get; set; } = 4;
}
