using Dapr.Client;
using Microsoft.Extensions.Options;
using Platform.Batch.Storage;

namespace Gateway.Images;

public static class GatewayImagesExtensions
{
    /// <summary>The gateway's image side: ImageGen client, produced-image store, input encoding, answer assembly.</summary>
    public static WebApplicationBuilder AddGatewayImages(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<ImageServingOptions>().Bind(builder.Configuration.GetSection(ImageServingOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<ImageStore>();
        var kind = builder.Configuration.GetSection(ImageServingOptions.Section).Get<ImageServingOptions>()?.Store ?? ImageStoreKind.Memory;
        switch (kind)
        {
            case ImageStoreKind.Memory:
                builder.Services.AddSingleton<IImageStore>(sp => sp.GetRequiredService<ImageStore>());
                break;
            case ImageStoreKind.Database:
                // The batch store's database (registered by AddGatewayBatch / AddBatchApi) as IBlobStore.
                builder.Services.AddSingleton<IImageStore>(sp => new SharedImageStore(sp.GetService<IBlobStore>()
                    ?? throw new InvalidOperationException("Images:Store = Database needs the batch store (AddGatewayBatch).")));
                break;
            case ImageStoreKind.Dapr:
                builder.Services.AddDaprClient();
                builder.Services.AddSingleton<IImageStore>(sp => new SharedImageStore(new DaprStateBlobStore(
                    sp.GetRequiredService<DaprClient>(), sp.GetRequiredService<IOptions<ImageServingOptions>>().Value.DaprStateStore)));
                break;
        }
        builder.Services.AddSingleton<ImageGenClient>();
        builder.Services.AddSingleton<ImageInputs>();
        builder.Services.AddSingleton<ImageResults>();
        return builder;
    }
}
