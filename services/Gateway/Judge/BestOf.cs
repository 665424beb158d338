using Gateway.OpenAi;
using Gateway.Validation;
using MassTransit;
using Platform.Contracts.Chat;
using Platform.Contracts.Judge;
using Platform.ServiceDefaults.Chat;

namespace Gateway.Judge;

/// <summary>One candidate of a best-of-n answer, with the judge's verdict on it.</summary>
public sealed record BestOfCandidateDto(int Index, string Content, int? Rating, string Critique);

/// <summary>
/// Best-of-n with a judge (an extension of chat completions: <c>best_of</c> and <c>judge</c>): <c>best_of</c> candidates
/// are sampled as independent choices, the judge model rates each with Auto-J's single-response protocol, and the
/// candidate with the highest rating is the answer (the lowest index among equals; a candidate without a readable
/// rating ranks below every rated one). The response carries every candidate's rating and critique.
/// </summary>
public static class BestOf
{
    /// <summary>The checks of <c>best_of</c> / <c>judge</c>; null when the request does not ask for best-of-n.</summary>
    public static (int? Count, ApiError? Error) Validate(ChatCompletionRequestDto dto, ValidatedChatRequest r, ModelDirectory directory, GatewayOptions options)
    {
        if (dto.BestOf is null && dto.Judge is null) return (null, null);
        if (dto.BestOf is not { } n) return (null, ApiError.Invalid("'judge' needs 'best_of' (the number of candidates).", "best_of", "missing_required_parameter"));
        if (n < 1 || n > options.MaxChoices) return (null, ApiError.Invalid($"Invalid 'best_of': {n}; it must be between 1 and {options.MaxChoices}.", "best_of"));
        if (string.IsNullOrWhiteSpace(dto.Judge)) return (null, ApiError.Invalid("'best_of' needs 'judge' (a judge model).", "judge", "missing_required_parameter"));
        if (r.Stream) return (null, ApiError.Invalid("'best_of' cannot be used with 'stream'.", "stream"));
        if (r.N != 1) return (null, ApiError.Invalid("'best_of' returns one choice; 'n' must be 1.", "n"));
        var judge = directory.Find(dto.Judge);
        if (judge is null || !(judge.Model.Capabilities ?? []).Contains(JudgeQueues.Capability))
            return (null, ApiError.From(new ChatCompletionException(ChatErrorCodes.ModelNotFound, $"The judge model '{dto.Judge}' does not exist or is not a judge.", "judge")));
        if (r.Images.Count > 0 && !judge.Model.AcceptsImages)
            return (null, ApiError.Invalid($"The judge model '{dto.Judge}' does not accept image input, so it cannot judge a conversation with images.", "judge", "image_input_not_supported"));
        return (n, null);
    }

    /// <summary>
    /// The conversation as the judge reads it: images are encoded again, for the judge model (its own visual encoder
    /// and projection), since the chat model's visual tokens live in the chat model's embedding space.
    /// </summary>
    public static async Task<(IReadOnlyList<ChatTurn>? Turns, ApiError? Error)> JudgeTurnsAsync(Gateway.Images.ImageInputs imageInputs,
        ChatCompletionRequestDto dto, ValidatedChatRequest r, CancellationToken ct)
    {
        if (r.Images.Count == 0) return (r.Messages, null);
        return await imageInputs.AttachAsync(dto, r with { Model = dto.Judge! }, ct);
    }

    /// <summary>Rates every candidate and returns the index of the best with all verdicts.</summary>
    public static async Task<(int Best, IReadOnlyList<BestOfCandidateDto> Candidates)> ChooseAsync(JudgeClient judges, string judge,
        IReadOnlyList<ChatTurn> messages, IReadOnlyList<string> contents, CancellationToken ct)
    {
        var verdicts = await Task.WhenAll(contents.Select(c =>
            judges.RateAsync(new RateResponse(NewId.NextGuid(), judge, messages, new ChatTurn("assistant", c)), ct)));
        var candidates = verdicts.Select((v, i) => new BestOfCandidateDto(i, contents[i], v.Rating, v.Critique)).ToList();
        return (Pick(verdicts.Select(v => v.Rating).ToList()), candidates);
    }

    /// <summary>The index of the highest rating (lowest index among equals; null ranks below every rating).</summary>
    public static int Pick(IReadOnlyList<int?> ratings)
    {
        int best = 0;
        for (int i = 1; i < ratings.Count; i++)
            if ((ratings[i] ?? int.MinValue) > (ratings[best] ?? int.MinValue)) best = i;
        return best;
    }
}
