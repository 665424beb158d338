using System.Collections.Concurrent;
using MassTransit;
using Microsoft.Extensions.Options;
using Platform.Contracts.Chat;
using Platform.Contracts.Images;
using Platform.ServiceDefaults.Chat;

namespace Gateway.Images;

/// <summary>The gateway's side of ImageGen: request/response over the bus to the model's image queue.</summary>
public sealed class ImageGenClient(IBus bus, IOptions<ImageServingOptions> options)
{
    private readonly ConcurrentDictionary<string, IRequestClient<EncodeImage>> _encode = new();
    private readonly ConcurrentDictionary<string, IRequestClient<ProduceImage>> _produce = new();

    private RequestTimeout Timeout => RequestTimeout.After(ms: (int)(options.Value.RequestTimeoutSeconds * 1000));

    /// <summary>Visual tokens of an input image, or the reason ImageGen rejected it (corrupt, oversized, not an image).</summary>
    public async Task<(VisualTokens? Tokens, string? Rejection)> EncodeAsync(string model, byte[] image, string name, CancellationToken ct)
    {
        var client = _encode.GetOrAdd(model, m => bus.CreateRequestClient<EncodeImage>(ImageQueues.AddressForModel(m), Timeout));
        var response = await Send(model, () => client.GetResponse<ImageEncoded, ImageRequestRejected>(
            new EncodeImage(NewId.NextGuid(), model, image, name), ct));
        if (response.Is(out Response<ImageEncoded>? ok) && ok is not null) return (ok.Message.Tokens, null);
        var rejected = Rejection(response);
        if (rejected.Code == ImageErrorCodes.InvalidImage) return (null, rejected.Message);
        throw new ChatCompletionException(ChatErrorCodes.ServerError, $"ImageGen could not encode {name}: {rejected.Message}");
    }

    /// <summary>The picture for an image slot; throws <see cref="ChatCompletionException"/> when ImageGen fails or is absent.</summary>
    public async Task<ImageProduced> ProduceAsync(string model, ImageSlotStates slot, string? decision, CancellationToken ct)
    {
        var client = _produce.GetOrAdd(model, m => bus.CreateRequestClient<ProduceImage>(ImageQueues.AddressForModel(m), Timeout));
        var response = await Send(model, () => client.GetResponse<ImageProduced, ImageRequestRejected>(
            new ProduceImage(NewId.NextGuid(), model, slot, decision), ct));
        if (response.Is(out Response<ImageProduced>? ok) && ok is not null) return ok.Message;
        var rejected = Rejection(response);
        throw new ChatCompletionException(ChatErrorCodes.ServerError, $"ImageGen could not produce the image: {rejected.Message}");
    }

    private static ImageRequestRejected Rejection<T>(Response<T, ImageRequestRejected> response) where T : class =>
        response.Is(out Response<ImageRequestRejected>? rejected) && rejected is not null
            ? rejected.Message
            : throw new ChatCompletionException(ChatErrorCodes.ServerError, "ImageGen sent an unexpected response.");

    private async Task<Response<T1, T2>> Send<T1, T2>(string model, Func<Task<Response<T1, T2>>> call)
        where T1 : class where T2 : class
    {
        try
        {
            return await call();
        }
        catch (RequestTimeoutException ex)
        {
            throw new ChatCompletionException(ChatErrorCodes.WorkerUnavailable,
                $"No ImageGen instance for model '{model}' answered within {options.Value.RequestTimeoutSeconds:0.#} s.", null, ex);
        }
        catch (RequestFaultException ex)
        {
            throw new ChatCompletionException(ChatErrorCodes.ServerError,
                $"ImageGen failed: {string.Join("; ", ex.Fault?.Exceptions.Select(e => e.Message) ?? [])}", null, ex);
        }
    }
}
