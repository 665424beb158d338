using MassTransit;
using Microsoft.Extensions.Options;
using MoeAdapter.Models;
using Platform.Contracts.Chat;
using Platform.Inference.Engine;
using TextLlm.Generation;

namespace MoeAdapter.Generation;

/// <summary>
/// Serves one chat request of an MoE model from its chat queue (chat-{model}) for the whole generation, like TextLlm's
/// consumer: rejections before the Accepted response, failures after it on the stream. The engine constrains pictures
/// (after begin-of-image exactly a picture's codes, then end-of-image); each picture the model finishes is decoded here
/// by the model's VQ decoder and leaves in its chunk as a PNG, in order with the text. What an image-token model
/// cannot do is refused with a precise error: image input, tools, response_format and prompt log-probabilities.
/// </summary>
public sealed class GenerateImageTokensConsumer(
    MoeEngines engines,
    ActiveGenerations active,
    IOptions<MoeAdapterOptions> options,
    IBus bus,
    ILogger<GenerateImageTokensConsumer> logger) : IConsumer<GenerateChatCompletion>
{
    public async Task Consume(ConsumeContext<GenerateChatCompletion> context)
    {
        var m = context.Message;
        var o = options.Value;
        var workerId = engines.WorkerId;
        if (context.ReceiveContext.Redelivered)
        {
            // Only a worker that died gives a message back; its client may already hold part of the answer.
            const string reason = "The worker that took this request stopped before finishing it; retry the request.";
            await context.RespondAsync(new ChatCompletionRejected(m.RequestId, workerId, ChatErrorCodes.WorkerUnavailable, reason, null));
            await (await context.GetSendEndpoint(m.StreamAddress)).Send(new ChatCompletionFailed(m.RequestId, ChatErrorCodes.WorkerUnavailable, reason));
            return;
        }
        if (!engines.Models.TryGetValue(m.Model, out var model))
        {
            await Reject(context, ChatErrorCodes.ModelNotFound, $"The model '{m.Model}' is not served by worker '{workerId}'.", "model");
            return;
        }
        if (Unsupported(m) is { } refusal)
        {
            await Reject(context, ChatErrorCodes.InvalidRequest, refusal.Message, refusal.Param);
            return;
        }
        var engine = model.Engine;
        var request = new GenerationRequest
        {
            Messages = m.Messages.Count == 0 ? null : m.Messages.Select(t => new ChatMessage(t.Role, t.Content)).ToList(),
            Prompt = m.Messages.Count == 0 ? m.Prompt : null,
            PromptTokens = m.Messages.Count == 0 ? m.PromptTokens : null,
            Logprobs = m.Logprobs,
            Sampling = new SamplingOptions
            {
                Temperature = m.Sampling.Temperature, TopP = m.Sampling.TopP, Seed = m.Sampling.Seed,
                PresencePenalty = m.Sampling.PresencePenalty, FrequencyPenalty = m.Sampling.FrequencyPenalty, LogitBias = m.Sampling.LogitBias,
            },
            StopStrings = m.Stop,
            IgnoreEos = m.Sampling.IgnoreEos,
            RequestId = m.RequestId.ToString(),
        };
        var param = m.Messages.Count == 0 ? "prompt" : "messages";
        int promptTokens;
        try
        {
            promptTokens = engine.CountPromptTokens(request);
        }
        catch (ContextLengthExceededException ex)
        {
            await Reject(context, ChatErrorCodes.ContextLengthExceeded, ex.Message, param);
            return;
        }
        catch (ArgumentException ex)
        {
            await Reject(context, ChatErrorCodes.InvalidRequest, ex.Message, param);
            return;
        }
        var room = engine.MaxContextTokens - promptTokens;
        if (room < 1 || m.MaxTokens > room)
        {
            await Reject(context, ChatErrorCodes.ContextLengthExceeded,
                $"This model's maximum context length is {engine.MaxContextTokens} tokens. However, you requested " +
                $"{promptTokens + (m.MaxTokens ?? 1)} tokens ({promptTokens} in the {param}, {m.MaxTokens ?? 1} in the completion).", param);
            return;
        }
        request = request with { MaxNewTokens = m.MaxTokens ?? Math.Min(room, o.DefaultMaxTokens) };

        using var registration = active.Register(m.RequestId, context.CancellationToken);
        var stream = await context.GetSendEndpoint(m.StreamAddress);
        IAsyncEnumerable<GenerationUpdate> updates;
        try
        {
            updates = engine.GenerateAsync(request, registration.Token);
        }
        catch (EngineFullException ex)
        {
            await Reject(context, ChatErrorCodes.QueueFull, ex.Message, null);
            return;
        }
        catch (ArgumentException ex)
        {
            await Reject(context, ChatErrorCodes.InvalidRequest, ex.Message, ex.Message.StartsWith("logit_bias", StringComparison.Ordinal) ? "logit_bias" : null);
            return;
        }
        // Sent while the engine prefills; the receiver registered the request first, so early chunks wait there in order.
        var accepted = context.RespondAsync(new ChatCompletionAccepted(m.RequestId, workerId, bus.Address, promptTokens));
        try
        {
            await ChunkPump.RunAsync(updates, m.RequestId,
                chunk => stream.Send(chunk, CancellationToken.None),
                TimeSpan.FromMilliseconds(o.CoalesceMaxDelayMs), o.CoalesceMaxTokens, TimeSpan.FromMilliseconds(o.HeartbeatIntervalMs),
                registration.Token,
                model.Pictures is { } pictures ? u => u.Picture is { } p ? pictures.Decode(p.GridSize, p.Codes) : null : null);
        }
        catch (OperationCanceledException) when (registration.Token.IsCancellationRequested)
        {
            logger.LogInformation("Request {RequestId} was cancelled", m.RequestId);
            if (context.CancellationToken.IsCancellationRequested)
                await TrySendFailure(stream, m.RequestId, ChatErrorCodes.WorkerUnavailable, "The worker is shutting down.");
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Request {RequestId} failed while generating", m.RequestId);
            await TrySendFailure(stream, m.RequestId, ChatErrorCodes.ServerError, $"Generation failed: {ex.Message}");
        }
        try
        {
            await accepted;
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Could not send the acceptance of request {RequestId}", m.RequestId);
        }
    }

    /// <summary>The parts of a request an image-token model does not serve, with the field to name.</summary>
    public static (string Message, string Param)? Unsupported(GenerateChatCompletion m)
    {
        if (m.Messages.Any(t => t.Images is { Count: > 0 }))
            return ($"The model '{m.Model}' does not accept image input: it draws pictures but reads only text.", "messages");
        if (m.Tools is not null)
            return ($"The model '{m.Model}' does not support tools.", "tools");
        if (m.ResponseFormat is not null)
            return ($"The model '{m.Model}' does not support response_format: its answers interleave text and pictures.", "response_format");
        if (m.PromptLogprobs)
            return ($"The model '{m.Model}' cannot score prompts.", "echo");
        return null;
    }

    private async Task Reject(ConsumeContext<GenerateChatCompletion> context, string code, string message, string? param) =>
        await context.RespondAsync(new ChatCompletionRejected(context.Message.RequestId, engines.WorkerId, code, message, param));

    private async Task TrySendFailure(ISendEndpoint stream, Guid requestId, string code, string message)
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
