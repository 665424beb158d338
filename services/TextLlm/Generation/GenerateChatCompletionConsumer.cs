using MassTransit;
using Microsoft.Extensions.Options;
using Platform.Contracts.Chat;
using Platform.Inference.Engine;
using TextLlm.Models;

namespace TextLlm.Generation;

/// <summary>
/// Serves one request from its model's queue for the whole generation, so the endpoint's ConcurrentMessageLimit
/// (the engine's MaxConcurrentSequences) keeps a worker from taking more than its engine runs; the rest wait in
/// the queue for whichever worker frees a slot first. Failures before the Accepted response throw (and are retried);
/// after it they are reported to the stream as <see cref="ChatCompletionFailed"/>, never retried, because part of
/// the answer may already be with the client.
/// </summary>
public sealed class GenerateChatCompletionConsumer(
    EngineHost engines,
    IReadOnlyDictionary<string, ModelEntry> registry,
    ActiveGenerations active,
    IOptions<TextLlmOptions> options,
    WorkerIdentity identity,
    ILogger<GenerateChatCompletionConsumer> logger) : IConsumer<GenerateChatCompletion>
{
    public async Task Consume(ConsumeContext<GenerateChatCompletion> context)
    {
        var m = context.Message;
        var o = options.Value;
        if (await GenerationStream.RejectRedeliveredAsync(context, identity.WorkerId)) return;
        if (!engines.Engines.TryGetValue(m.Model, out var engine))
        {
            await Reject(context, ChatErrorCodes.ModelNotFound, $"The model '{m.Model}' is not served by worker '{identity.WorkerId}'.", "model");
            return;
        }

        var multimodal = registry.TryGetValue(m.Model, out var entry) && entry.Multimodal;
        if (!multimodal && m.Messages.Any(t => t.Images is { Count: > 0 }))
        {
            await Reject(context, ChatErrorCodes.InvalidRequest, $"The model '{m.Model}' does not accept image input.", "messages");
            return;
        }
        var request = new GenerationRequest
        {
            // Visual tokens go in at the turn's "<image>" placeholders; GILL image slots come back with their hidden
            // states (ReportImageSlots) and travel in the chunks, in order with the text, to be drawn by ImageGen.
            // A text completion (no messages) runs its raw prompt, text or token ids, without the chat template.
            Messages = m.Messages.Count == 0 ? null : m.Messages.Select(t => new ChatMessage(t.Role, t.Content,
                t.Images?.Select(v => new VisualEmbedding(v.Tokens, v.Hidden, v.Data)).ToList())
            {
                ToolCalls = t.ToolCalls?.Select(c => new Platform.Inference.Chat.ToolCall(c.Id, c.Name, c.Arguments)).ToList(),
                ToolCallId = t.ToolCallId,
            }).ToList(),
            Prompt = m.Messages.Count == 0 ? m.Prompt : null,
            PromptTokens = m.Messages.Count == 0 ? m.PromptTokens : null,
            Logprobs = m.Logprobs,
            // A text completion has no image parts to answer with: [IMG0] stays a token of its text.
            ReportImageSlots = multimodal && m.Messages.Count > 0,
            // The gateway refuses set markers typed by users, so markers here come from its set-parts extension.
            UseSetMarkers = m.Messages.Any(t => SetMarkers.ContainsAny(t.Content)),
            Sampling = GenerationStream.Sampling(m),
            StopStrings = m.Stop,
            IgnoreEos = m.Sampling.IgnoreEos,
            RequestId = m.RequestId.ToString(),
        };
        // response_format and tools: the grammar to decode under and the format to read calls back with.
        StructuredOutput.Plan plan;
        try
        {
            plan = StructuredOutput.Build(m.ResponseFormat, m.Tools, engine.ChatTemplate ?? Platform.Inference.Chat.ChatTemplate.ForName("chatml"));
        }
        catch (StructuredOutputException ex)
        {
            await Reject(context, ChatErrorCodes.InvalidRequest, ex.Message, ex.Param);
            return;
        }
        request = request with { Grammar = plan.Grammar, Tools = plan.Tools };
        int promptTokens;
        try
        {
            promptTokens = engine.CountPromptTokens(request);
        }
        catch (ContextLengthExceededException ex)
        {
            await Reject(context, ChatErrorCodes.ContextLengthExceeded, ex.Message, m.Messages.Count == 0 ? "prompt" : "messages");
            return;
        }
        catch (ArgumentException ex)
        {
            // Placeholders that do not match the images, or visual tokens of another width than the model's.
            await Reject(context, ChatErrorCodes.InvalidRequest, ex.Message, m.Messages.Count == 0 ? "prompt" : "messages");
            return;
        }
        var param = m.Messages.Count == 0 ? "prompt" : "messages";
        if (GenerationStream.ContextRoomError(engine.MaxContextTokens, promptTokens, m.MaxTokens, param) is { } tooLong)
        {
            await Reject(context, ChatErrorCodes.ContextLengthExceeded, tooLong, param);
            return;
        }
        request = request with { MaxNewTokens = m.MaxTokens ?? Math.Min(engine.MaxContextTokens - promptTokens, o.DefaultMaxTokens) };
        IReadOnlyList<PromptTokenLogprob>? promptLogprobs = null;
        if (m.PromptLogprobs)
        {
            if (engine is not IPromptScorer scorer)
            {
                await Reject(context, ChatErrorCodes.InvalidRequest, $"The model '{m.Model}' cannot score prompts.", "echo");
                return;
            }
            var scored = await scorer.PromptLogprobsAsync(request, m.Logprobs ?? 0, context.CancellationToken);
            promptLogprobs = scored.Select(t => new PromptTokenLogprob(t.Bytes, t.Logprob,
                t.Top?.Select(a => new AlternativeTokenLogprob(a.Bytes, a.Logprob)).ToList())).ToList();
        }

        using var registration = active.Register(m.RequestId, context.CancellationToken);
        var stream = await context.GetSendEndpoint(m.StreamAddress);
        // The engine starts first, then the acceptance is sent while it prefills (sending it first would delay the
        // prefill by the send): the receiver registered the request before sending it, so chunks that overtake the
        // Accepted response wait there in order.
        IAsyncEnumerable<GenerationUpdate> updates;
        try
        {
            updates = engine.GenerateAsync(request, registration.Token);
            if (plan.ToolFormat is { } toolFormat) updates = ToolCallStream.ReadAsync(updates, toolFormat, registration.Token);
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
        var accepted = context.RespondAsync(new ChatCompletionAccepted(m.RequestId, identity.WorkerId, identity.ControlAddress, promptTokens,
            promptLogprobs));
        await GenerationStream.RunAsync(updates, m.RequestId, stream, accepted,
            TimeSpan.FromMilliseconds(o.CoalesceMaxDelayMs), o.CoalesceMaxTokens, TimeSpan.FromMilliseconds(o.HeartbeatIntervalMs),
            registration.Token, context.CancellationToken, logger);
    }

    private async Task Reject(ConsumeContext<GenerateChatCompletion> context, string code, string message, string? param) =>
        await context.RespondAsync(new ChatCompletionRejected(context.Message.RequestId, identity.WorkerId, code, message, param));
}
