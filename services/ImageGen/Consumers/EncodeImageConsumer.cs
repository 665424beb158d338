using ImageGen.Models;
using MassTransit;
using Platform.Contracts.Images;
using Platform.Multimodal.Imaging;

namespace ImageGen.Consumers;

/// <summary>Input side: image bytes -> visual tokens (ImageSharp decoding under the byte and pixel limits, then the
/// visual encoder and projection, batched with the other requests of the moment). Bad bytes are answered with <see cref="ImageRequestRejected"/>, not retried.</summary>
public sealed class EncodeImageConsumer(ImageModelHost host, ILogger<EncodeImageConsumer> logger) : IConsumer<EncodeImage>
{
    public async Task Consume(ConsumeContext<EncodeImage> context)
    {
        var m = context.Message;
        if (!host.Batchers.TryGetValue(m.Model, out var batcher))
        {
            await context.RespondAsync(new ImageRequestRejected(m.RequestId, ImageErrorCodes.ModelNotFound,
                $"The model '{m.Model}' has no image side on this ImageGen instance."));
            return;
        }
        try
        {
            var embedding = await batcher.EncodeImageAsync(m.Image, m.Name, context.CancellationToken);
            await context.RespondAsync(new ImageEncoded(m.RequestId, new VisualTokens(embedding.Tokens, embedding.Hidden, embedding.Data)));
        }
        catch (ImageDecodeException ex)
        {
            logger.LogInformation("Rejected image {Name} of request {RequestId}: {Reason}", m.Name, m.RequestId, ex.Message);
            await context.RespondAsync(new ImageRequestRejected(m.RequestId, ImageErrorCodes.InvalidImage, ex.Message));
        }
    }
}
