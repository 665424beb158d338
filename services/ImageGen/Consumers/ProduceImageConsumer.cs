using ImageGen.Models;
using MassTransit;
using Platform.Contracts.Images;
using Platform.Inference.Engine;
using Platform.Multimodal.Serving;

namespace ImageGen.Consumers;

/// <summary>Output side (GILL): an [IMG] slot's hidden states -> decision (generate or retrieve) -> PNG, drawn by the
/// mapper and the ONNX decoder or picked from the gallery by the retrieval head, batched with the other slots of the
/// moment.</summary>
public sealed class ProduceImageConsumer(ImageModelHost host, ILogger<ProduceImageConsumer> logger) : IConsumer<ProduceImage>
{
    public async Task Consume(ConsumeContext<ProduceImage> context)
    {
        var m = context.Message;
        if (!host.Batchers.TryGetValue(m.Model, out var batcher))
        {
            await context.RespondAsync(new ImageRequestRejected(m.RequestId, ImageErrorCodes.ModelNotFound,
                $"The model '{m.Model}' has no image side on this ImageGen instance."));
            return;
        }
        ImageDecision? force;
        switch (m.Decision)
        {
            case null: force = null; break;
            case "generate": force = ImageDecision.Generate; break;
            case "retrieve": force = ImageDecision.Retrieve; break;
            default:
                await context.RespondAsync(new ImageRequestRejected(m.RequestId, ImageErrorCodes.InvalidSlot,
                    $"Decision '{m.Decision}' is not 'generate' or 'retrieve'."));
                return;
        }
        ProducedImage produced;
        try
        {
            produced = await batcher.ProduceImageAsync(new ImageSlot(m.Slot.Tokens, m.Slot.Hidden, m.Slot.HiddenStates, m.Slot.InputEmbeddings), force, context.CancellationToken);
        }
        catch (ArgumentException ex)
        {
            await context.RespondAsync(new ImageRequestRejected(m.RequestId, ImageErrorCodes.InvalidSlot, ex.Message));
            return;
        }
        var size = batcher.Models.Config.ImageSize;
        logger.LogDebug("Request {RequestId}: {Decision} (P(retrieve) {P:0.00})", m.RequestId, produced.Decision, produced.RetrieveProbability);
        await context.RespondAsync(new ImageProduced(m.RequestId, produced.Decision == ImageDecision.Retrieve ? "retrieve" : "generate",
            produced.RetrieveProbability, produced.Png, size, size, produced.GalleryIndex, produced.GalleryCaption));
    }
}
