using MassTransit;
using Platform.Contracts.Chat;
using Platform.Contracts.Images;
using Platform.Inference.Engine;

namespace TextLlm.Generation;

/// <summary>
/// The parts of serving a chat request that every engine worker shares (TextLlm's and MoeAdapter's consumers): the
/// answer to a redelivered message, the request's sampling, the context-room check, and the run after acceptance that
/// pumps the engine's updates to the stream and turns cancellation and failures into <see cref="ChatCompletionFailed"/>.
/// </summary>
public static class GenerationStream
{
    /// <summary>
    /// The broker gives a message back only when the worker holding it died. Its client may already have part of the
    /// answer from that worker, which cannot be continued here, so the request ends with a clear error. True when
    /// the message was a redelivery (and has been answered).
    /// </summary>
    public static async Task<bool> RejectRedeliveredAsync(ConsumeContext<GenerateChatCompletion> context, string workerId)
    {
        if (!context.ReceiveContext.Redelivered) return false;
        var m = context.Message;
        const string reason = "The worker that took this request stopped before finishing it; retry the request.";
        await context.RespondAsync(new ChatCompletionRejected(m.RequestId, workerId, ChatErrorCodes.WorkerUnavailable, reason, null));
        await (await context.GetSendEndpoint(m.StreamAddress)).Send(new ChatCompletionFailed(m.RequestId, ChatErrorCodes.WorkerUnavailable, reason));
        return true;
    }

    /// <summary>The engine's sampling options of a request.</summary>
    public static SamplingOptions Sampling(GenerateChatCompletion m) => new()
    {
        Temperature = m.Sampling.Temperature, TopP = m.Sampling.TopP, Seed = m.Sampling.Seed,
        PresencePenalty = m.Sampling.PresencePenalty, FrequencyPenalty = m.Sampling.FrequencyPenalty, LogitBias = m.Sampling.LogitBias,
    };

    /// <summary>OpenAI's context-length message when the prompt leaves no room or max_tokens asks for more; else null.</summary>
    public static string? ContextRoomError(int maxContextTokens, int promptTokens, int? maxTokens, string param)
    {
        var room = maxContextTokens - promptTokens;
        if (room >= 1 && !(maxTokens > room)) return null;
        return $"This model's maximum context length is {maxContextTokens} tokens. However, you requested " +
            $"{promptTokens + (maxTokens ?? 1)} tokens ({promptTokens} in the {param}, {maxTokens ?? 1} in the completion).";
    }

    /// <summary>
    /// Pumps <paramref name="updates"/> to <paramref name="stream"/> (<see cref="ChunkPump"/>), then waits for the
    /// acceptance sent while the engine prefilled. A cancellation ends quietly, or with a "shutting down" failure when
    /// the worker stops; any other exception reaches the client as a server error.
    /// </summary>
    public static async Task RunAsync(
        IAsyncEnumerable<GenerationUpdate> updates, Guid requestId, ISendEndpoint stream, Task accepted,
        TimeSpan maxDelay, int maxTokens, TimeSpan heartbeat, CancellationToken generation, CancellationToken consumer,
        ILogger logger, Func<GenerationUpdate, DecodedPicture?>? pictures = null)
    {
        try
        {
            await ChunkPump.RunAsync(updates, requestId, chunk => stream.Send(chunk, CancellationToken.None),
                maxDelay, maxTokens, heartbeat, generation, pictures);
        }
        catch (OperationCanceledException) when (generation.IsCancellationRequested)
        {
            logger.LogInformation("Request {RequestId} was cancelled", requestId);
            if (consumer.IsCancellationRequested)
                await TrySendFailure(stream, requestId, ChatErrorCodes.WorkerUnavailable, "The worker is shutting down.", logger);
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Request {RequestId} failed while generating", requestId);
            await TrySendFailure(stream, requestId, ChatErrorCodes.ServerError, $"Generation failed: {ex.Message}", logger);
        }
        try
        {
            await accepted;
        }
        catch (Exception ex)
        {
            // The requester then fails on its own timeout; the chunks it may have got are discarded with the request.
            logger.LogWarning(ex, "Could not send the acceptance of request {RequestId}", requestId);
        }
    }

    private static async Task TrySendFailure(ISendEndpoint stream, Guid requestId, string code, string message, ILogger logger)
    {
        try
        {
            await stream.Send(new ChatCompletionFailed(requestId, code, message), CancellationToken.None);
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Could not report the failure of request {RequestId}", requestId);
        }
    }
}
