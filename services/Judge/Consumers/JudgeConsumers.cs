using MassTransit;
using Platform.Contracts.Chat;
using Platform.Contracts.Judge;
using Platform.Inference.Engine;
using Platform.Judging;
using Judge.Models;
using TextLlm.Models;

namespace Judge.Consumers;

/// <summary>
/// Runs one judgement per message from its judge model's queue. Bad requests (unknown model, images for a text-only
/// judge, prompt over the context, set markers in the judged text) are answered with <see cref="JudgeRequestRejected"/>;
/// a full engine throws, so MassTransit retries and the message waits for a free slot.
/// </summary>
public sealed class RateResponseConsumer(JudgeEngines engines, IReadOnlyDictionary<string, ModelEntry> registry)
    : IConsumer<RateResponse>
{
    public async Task Consume(ConsumeContext<RateResponse> context)
    {
        var m = context.Message;
        if (JudgeConsumerChecks.Check(engines, registry, m.Model, [.. m.Messages, m.Response]) is { } rejected)
        {
            await context.RespondAsync(rejected with { RequestId = m.RequestId });
            return;
        }
        try
        {
            var r = await engines.Runners[m.Model].RateAsync(JudgeConsumerChecks.Turns(m.Messages), JudgeConsumerChecks.Content(m.Response), context.CancellationToken);
            await context.RespondAsync(new ResponseRated(m.RequestId, r.Rating, r.Critique, r.Raw, r.PromptTokens, r.CompletionTokens, engines.WorkerId));
        }
        catch (Exception ex) when (JudgeConsumerChecks.AsRejection(ex) is { } code)
        {
            await context.RespondAsync(new JudgeRequestRejected(m.RequestId, code, ex.Message, "messages"));
        }
    }
}

public sealed class CompareResponsesConsumer(JudgeEngines engines, IReadOnlyDictionary<string, ModelEntry> registry)
    : IConsumer<CompareResponses>
{
    public async Task Consume(ConsumeContext<CompareResponses> context)
    {
        var m = context.Message;
        if (JudgeConsumerChecks.Check(engines, registry, m.Model, [.. m.Messages, .. m.Responses]) is { } rejected)
        {
            await context.RespondAsync(rejected with { RequestId = m.RequestId });
            return;
        }
        if (m.Responses.Count != 2)
        {
            await context.RespondAsync(new JudgeRequestRejected(m.RequestId, ChatErrorCodes.InvalidRequest, $"responses must hold exactly two responses, got {m.Responses.Count}", "responses"));
            return;
        }
        if (!JudgeModes.All.Contains(m.Mode))
        {
            await context.RespondAsync(new JudgeRequestRejected(m.RequestId, ChatErrorCodes.InvalidRequest, $"mode must be one of {string.Join(", ", JudgeModes.All)}, got '{m.Mode}'", "mode"));
            return;
        }
        try
        {
            var mode = m.Mode == JudgeModes.Set ? ComparisonMode.Set : ComparisonMode.Ordered;
            var r = await engines.Runners[m.Model].CompareAsync(JudgeConsumerChecks.Turns(m.Messages),
                JudgeConsumerChecks.Content(m.Responses[0]), JudgeConsumerChecks.Content(m.Responses[1]), mode, context.CancellationToken);
            int? winner = r.Winner switch { ComparisonWinner.First => 0, ComparisonWinner.Second => 1, _ => null };
            await context.RespondAsync(new ResponsesCompared(m.RequestId, winner, r.Winner == ComparisonWinner.Tie, r.Critique, r.Raw,
                r.PromptTokens, r.CompletionTokens, engines.WorkerId));
        }
        catch (Exception ex) when (JudgeConsumerChecks.AsRejection(ex) is { } code)
        {
            await context.RespondAsync(new JudgeRequestRejected(m.RequestId, code, ex.Message, "messages"));
        }
    }
}

internal static class JudgeConsumerChecks
{
    public static JudgeRequestRejected? Check(JudgeEngines engines, IReadOnlyDictionary<string, ModelEntry> registry, string model, IEnumerable<ChatTurn> turns)
    {
        if (!engines.Runners.ContainsKey(model))
            return new JudgeRequestRejected(Guid.Empty, ChatErrorCodes.ModelNotFound, $"The judge model '{model}' is not served by this worker.", "model");
        var multimodal = registry.TryGetValue(model, out var entry) && entry.Multimodal;
        if (!multimodal && turns.Any(t => t.Images is { Count: > 0 }))
            return new JudgeRequestRejected(Guid.Empty, ChatErrorCodes.InvalidRequest, $"The judge model '{model}' does not accept image input.", "messages");
        return null;
    }

    /// <summary>Errors that are the request's fault: a prompt over the context, or content the engine refuses.</summary>
    public static string? AsRejection(Exception ex) => ex switch
    {
        ContextLengthExceededException => ChatErrorCodes.ContextLengthExceeded,
        ArgumentException => ChatErrorCodes.InvalidRequest,
        _ => null,
    };

    public static JudgeContent Content(ChatTurn t) =>
        new(t.Content, t.Images?.Select(v => new VisualEmbedding(v.Tokens, v.Hidden, v.Data)).ToList());

    public static IReadOnlyList<(string Role, JudgeContent Content)> Turns(IReadOnlyList<ChatTurn> turns) =>
        turns.Select(t => (t.Role, Content(t))).ToList();
}
