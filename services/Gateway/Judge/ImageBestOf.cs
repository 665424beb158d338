using Gateway.Images;
using Gateway.Validation;
using MassTransit;
using Platform.Contracts.Chat;
using Platform.Contracts.Judge;
using Platform.ServiceDefaults.Chat;

namespace Gateway.Judge;

/// <summary>One candidate picture of a best-of-n image generation, with the judge's verdict on it.</summary>
public sealed record ImageBestOfCandidateDto(int Index, int? Rating, string Critique, string? Url = null, string? B64Json = null);

/// <summary>
/// Best-of-n for the images API (an extension, like chat's <c>best_of</c> / <c>judge</c>): <c>best_of</c> pictures
/// are generated (sampled, at <c>temperature</c> 1 unless given), the judge model SEES each one (its PNG is encoded
/// by ImageGen for the judge, as any input image of the judge is) and rates it against the drawing instruction with
/// Auto-J's single-response protocol, and the highest rated picture is returned (the lowest index among equals; a
/// candidate without a readable rating ranks below every rated one). The response lists every candidate with its
/// rating and critique.
/// </summary>
public static class ImageBestOf
{
    /// <summary>The checks of <c>best_of</c> / <c>judge</c> on the images API; null count when not asked for.</summary>
    public static (int? Count, ApiError? Error) Validate(ImageGenerationRequestDto dto, int n, ModelDirectory directory, int maxCandidates)
    {
        if (dto.BestOf is null && dto.Judge is null) return (null, null);
        if (dto.BestOf is not { } count) return (null, ApiError.Invalid("'judge' needs 'best_of' (the number of candidates).", "best_of", "missing_required_parameter"));
        if (count < 1 || count > maxCandidates) return (null, ApiError.Invalid($"Invalid 'best_of': {count}; it must be between 1 and {maxCandidates}.", "best_of"));
        if (string.IsNullOrWhiteSpace(dto.Judge)) return (null, ApiError.Invalid("'best_of' needs 'judge' (a judge model).", "judge", "missing_required_parameter"));
        if (n != 1) return (null, ApiError.Invalid("'best_of' returns one image; 'n' must be 1.", "n"));
        var judge = directory.Find(dto.Judge);
        if (judge is null || !(judge.Model.Capabilities ?? []).Contains(JudgeQueues.Capability))
            return (null, ApiError.From(new ChatCompletionException(ChatErrorCodes.ModelNotFound, $"The judge model '{dto.Judge}' does not exist or is not a judge.", "judge")));
        if (!judge.Model.AcceptsImages)
            return (null, ApiError.Invalid($"The judge model '{dto.Judge}' does not accept image input, so it cannot judge pictures.", "judge", "image_input_not_supported"));
        return (count, null);
    }

    /// <summary>Encodes every candidate for the judge, rates each against the instruction, returns the best index and all verdicts.</summary>
    public static async Task<(int Best, IReadOnlyList<(int? Rating, string Critique)> Verdicts)> ChooseAsync(JudgeClient judges, ImageGenClient imageGen,
        string judge, string instruction, IReadOnlyList<byte[]> pngs, CancellationToken ct)
    {
        var verdicts = await Task.WhenAll(pngs.Select(async (png, i) =>
        {
            var (tokens, rejection) = await imageGen.EncodeAsync(judge, png, $"best_of_candidates[{i}]", ct);
            if (tokens is null) throw new ChatCompletionException(ChatErrorCodes.ServerError, $"The judge could not read candidate {i}: {rejection}");
            var rated = await judges.RateAsync(new RateResponse(NewId.NextGuid(), judge, [new ChatTurn("user", instruction)],
                new ChatTurn("assistant", PromptMarkers.Image, [tokens])), ct);
            return (rated.Rating, rated.Critique);
        }));
        return (BestOf.Pick(verdicts.Select(v => v.Rating).ToList()), verdicts);
    }
}
