namespace Gateway.Images;

public static class GatewayImagesExtensions
{
    /// <summary>The gateway's image side: ImageGen client, produced-image store, input encoding, answer assembly.</summary>
    public static WebApplicationBuilder AddGatewayImages(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<ImageServingOptions>().Bind(builder.Configuration.GetSection(ImageServingOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<ImageStore>();
        builder.Services.AddSingleton<ImageGenClient>();
        builder.Services.AddSingleton<ImageInputs>();
        builder.Services.AddSingleton<ImageResults>();
        return builder;
    }
}
