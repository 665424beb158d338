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
        if (await GenerationStream.RejectRedeliveredAsync(context, workerId)) return;
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
            Sampling = GenerationStream.Sampling(m),
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
        if (GenerationStream.ContextRoomError(engine.MaxContextTokens, promptTokens, m.MaxTokens, param) is { } tooLong)
        {
            await Reject(context, ChatErrorCodes.ContextLengthExceeded, tooLong, param);
            return;
        }
        request = request with { MaxNewTokens = m.MaxTokens ?? Math.Min(engine.MaxContextTokens - promptTokens, o.DefaultMaxTokens) };

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
        await GenerationStream.RunAsync(updates, m.RequestId, stream, accepted,
            TimeSpan.FromMilliseconds(o.CoalesceMaxDelayMs), o.CoalesceMaxTokens, TimeSpan.FromMilliseconds(o.HeartbeatIntervalMs),
            registration.Token, context.CancellationToken, logger,
            model.Pictures is { } pictures ? u => u.Picture is { } p ? pictures.Decode(p.GridSize, p.Codes) : null : null);
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
}
