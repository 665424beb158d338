namespace ImageGen;

public static class ImageGenExtensions
{
    public const string SettingsFile = "imagegen.settings.json";

    /// <summary>
    /// The image service's consumers and models. It has none yet: the multimodal issue adds the visual encoder,
    /// GILL mapper and decoder here. Hosting it (alone or inside the gateway) already gives health, metrics,
    /// tracing and a bus connection. Call before AddPlatformBus.
    /// </summary>
    public static IHostApplicationBuilder AddImageGenWorker(this IHostApplicationBuilder builder) => builder;
}
