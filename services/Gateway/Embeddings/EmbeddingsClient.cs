using System.Collections.Concurrent;
using MassTransit;
using Microsoft.Extensions.Options;
using Platform.Contracts.Chat;
using Platform.Contracts.Embeddings;
using Platform.ServiceDefaults.Chat;

namespace Gateway.Embeddings;

/// <summary>Sends <see cref="CreateEmbeddings"/> to the model's queue (the queue its generations use) and waits for the vectors.</summary>
public sealed class EmbeddingsClient(IBus bus, IOptions<ChatClientOptions> options)
{
    private readonly ConcurrentDictionary<string, IRequestClient<CreateEmbeddings>> _clients = new();

    /// <summary>Throws <see cref="ChatCompletionException"/> for a rejection, no worker in time or a worker fault.</summary>
    public async Task<EmbeddingsCreated> CreateAsync(CreateEmbeddings request, CancellationToken ct)
    {
        var o = options.Value;
        var client = _clients.GetOrAdd(request.Model, m => bus.CreateRequestClient<CreateEmbeddings>(ChatQueues.AddressForModel(m),
            RequestTimeout.After(ms: (int)o.QueueTimeout.TotalMilliseconds)));
        Response<EmbeddingsCreated, EmbeddingsRejected> response;
        try
        {
            response = await client.GetResponse<EmbeddingsCreated, EmbeddingsRejected>(request, ct);
        }
        catch (RequestTimeoutException ex)
        {
            throw new ChatCompletionException(ChatErrorCodes.WorkerUnavailable,
                $"No worker for model '{request.Model}' answered within {o.QueueTimeoutSeconds:0.#} s.", null, ex);
        }
        catch (RequestFaultException ex)
        {
            throw new ChatCompletionException(ChatErrorCodes.ServerError,
                $"The worker failed: {string.Join("; ", ex.Fault?.Exceptions.Select(e => e.Message) ?? [])}", null, ex);
        }
        if (response.Is(out Response<EmbeddingsCreated>? ok) && ok is not null) return ok.Message;
        if (response.Is(out Response<EmbeddingsRejected>? rejected) && rejected is not null)
            throw new ChatCompletionException(rejected.Message.Code, rejected.Message.Message, rejected.Message.Param);
        throw new ChatCompletionException(ChatErrorCodes.ServerError, "The worker sent an unexpected response.");
    }
}
