using System.ComponentModel.DataAnnotations;

namespace Gateway.Images;

/// <summary>How the gateway serves images, section "Images".</summary>
public sealed class ImageServingOptions
{
    public const string Section = "Images";

    /// <summary>
    /// Where produced images live: Memory (this process, bounded below; one gateway only), Database (the batch store's
    /// database: SQLite all-in-one, PostgreSQL with several gateways) or Dapr (the state store Images:DaprStateStore).
    /// </summary>
    public ImageStoreKind Store { get; set; } = ImageStoreKind.Memory;

    /// <summary>The Dapr state store component of Images:Store = Dapr.</summary>
    public string DaprStateStore { get; set; } = "platform-state";

    /// <summary>Bytes of PNG kept for GET /v1/images/{id}.png; the least recently used images go first beyond it.</summary>
    [Range(1024, long.MaxValue)] public long MaxStoreBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Images kept at most, whatever their size.</summary>
    [Range(1, 10_000_000)] public int MaxStoredImages { get; set; } = 100_000;

    /// <summary>Base of image URLs in answers (e.g. "https://api.example.com"); null: the scheme and host of the request.</summary>
    [Url] public string? PublicBaseUrl { get; set; }

    /// <summary>How long an ImageGen request (encode or produce) may take, queue time included.</summary>
    [Range(0.1, 3600)] public double RequestTimeoutSeconds { get; set; } = 60;

    /// <summary>Model of POST /v1/images/generations when the request names none.</summary>
    public string DefaultModel { get; set; } = "demo";

    /// <summary>The one size the image models make ("WxH"); other sizes get 400.</summary>
    [RegularExpression("^[0-9]+x[0-9]+$")] public string GenerationSize { get; set; } = "64x64";

    /// <summary>Largest "n" of POST /v1/images/generations.</summary>
    [Range(1, 64)] public int MaxImagesPerGeneration { get; set; } = 4;

    /// <summary>Most candidates of one best-of-n generation (<c>best_of</c>, judged one by one).</summary>
    [Range(1, 64)] public int MaxBestOf { get; set; } = 8;

    /// <summary>Longest prompt of POST /v1/images/generations, in characters.</summary>
    [Range(1, 100_000)] public int MaxPromptLength { get; set; } = 1000;

    /// <summary>Completion tokens the language model may spend before its image slot.</summary>
    [Range(8, 4096)] public int GenerationMaxTokens { get; set; } = 64;

    /// <summary>The same for an image-token model, whose picture itself is tokens (demo-moe: 66, begin + 8x8 codes + end);
    /// null (the default): as many as the model's context leaves after the prompt, capped by the worker's default.</summary>
    [Range(8, 65536)] public int? ImageTokenGenerationMaxTokens { get; set; }
}
