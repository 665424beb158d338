using System.Collections.Concurrent;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Platform.Contracts.Chat;

namespace Platform.ServiceDefaults.Chat;

/// <summary>
/// Starts generations on the text workers over the bus: a MassTransit request to the model's queue (competing
/// consumers) answered by Accepted/Rejected, then chunks sent by the worker to this instance's bus endpoint.
/// Used by the gateway's HTTP API and by anything else that routes chat completions (batch).
/// </summary>
public sealed class ChatCompletionClient(
    IBus bus,
    ChatStreamRouter router,
    ModelDirectory directory,
    PlatformMetrics metrics,
    IOptions<ChatClientOptions> options,
    ILogger<ChatCompletionClient> logger)
{
    private readonly ConcurrentDictionary<string, IRequestClient<GenerateChatCompletion>> _clients = new();
    private int _waiting;

    /// <summary>
    /// Sends the request and waits until a worker accepts it. Throws <see cref="ChatCompletionException"/> with
    /// model_not_found, queue_full, context_length_exceeded, worker_unavailable (nobody accepted in time) or server_error.
    /// </summary>
    public async Task<ChatCompletionSession> StartAsync(ChatCompletionStart start, CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (directory.Find(start.Model) is null)
            throw new ChatCompletionException(ChatErrorCodes.ModelNotFound,
                $"The model '{start.Model}' does not exist or no worker serves it.", "model");
        if (Interlocked.Increment(ref _waiting) > o.MaxWaitingRequests)
        {
            Interlocked.Decrement(ref _waiting);
            throw new ChatCompletionException(ChatErrorCodes.QueueFull,
                $"Too many requests are waiting for a worker ({o.MaxWaitingRequests}); retry later.");
        }

        var requestId = NewId.NextGuid();
        var session = new ChatCompletionSession(requestId, start.Model, router, bus, metrics, o.StreamIdleTimeout, logger);
        router.Register(session);
        try
        {
            var client = _clients.GetOrAdd(start.Model,
                m => bus.CreateRequestClient<GenerateChatCompletion>(ChatQueues.AddressForModel(m),
                    RequestTimeout.After(ms: (int)o.QueueTimeout.TotalMilliseconds)));
            var command = new GenerateChatCompletion(requestId, start.Model, start.Messages, start.MaxTokens, start.Sampling,
                start.Stop, bus.Address, start.Prompt, start.PromptTokens, start.Logprobs, start.PromptLogprobs, start.ResponseFormat, start.Tools);
            Response<ChatCompletionAccepted, ChatCompletionRejected> response;
            try
            {
                response = await client.GetResponse<ChatCompletionAccepted, ChatCompletionRejected>(command, cancellationToken)
                    .ConfigureAwait(false);
            }
            catch (RequestTimeoutException ex)
            {
                throw new ChatCompletionException(ChatErrorCodes.WorkerUnavailable,
                    $"No worker for model '{start.Model}' accepted the request within {o.QueueTimeoutSeconds:0.#} s.", null, ex);
            }
            catch (RequestFaultException ex)
            {
                throw new ChatCompletionException(ChatErrorCodes.ServerError,
                    $"The worker failed to start the request: {string.Join("; ", ex.Fault?.Exceptions.Select(e => e.Message) ?? [])}",
                    null, ex);
            }

            if (response.Is(out Response<ChatCompletionRejected>? rejected) && rejected is not null)
                throw new ChatCompletionException(rejected.Message.Code, rejected.Message.Message, rejected.Message.Param);
            if (!response.Is(out Response<ChatCompletionAccepted>? accepted) || accepted is null)
                throw new ChatCompletionException(ChatErrorCodes.ServerError, "The worker sent an unexpected response.");
            session.MarkAccepted(accepted.Message);
            logger.LogDebug("Request {RequestId} for {Model} accepted by {WorkerId}", requestId, start.Model, accepted.Message.WorkerId);
            return session;
        }
        catch
        {
            await session.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }
    }
}
