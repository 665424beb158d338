using Gateway.OpenAi;
using Platform.Contracts.Chat;

namespace Gateway.Validation;

/// <summary>A text-completion request that passed validation. <see cref="BestOf"/> candidates run per prompt and the
/// <see cref="N"/> best are returned; <see cref="Logprobs"/> is what the client asked for (null: none).</summary>
public sealed record ValidatedCompletionRequest(
    string Model,
    PromptInput Prompt,
    int MaxTokens,
    SamplingParameters Sampling,
    IReadOnlyList<string> Stop,
    int N,
    int BestOf,
    bool Stream,
    bool IncludeUsage,
    int? Logprobs,
    bool Echo);

/// <summary>Checks a POST /v1/completions body field by field (OpenAI's rules and defaults: max_tokens 16).</summary>
public static class CompletionRequestValidator
{
    /// <summary>OpenAI's default max_tokens for text completions.</summary>
    public const int DefaultMaxTokens = 16;
    /// <summary>OpenAI's limit for the legacy logprobs integer.</summary>
    public const int MaxLogprobs = 5;

    public static (ValidatedCompletionRequest? Request, ApiError? Error) Validate(CompletionRequestDto dto, GatewayOptions options)
    {
        if (RequestFields.Check(dto.UnknownFields) is { } unknown) return Fail(unknown);
        if (RequestFields.Check(dto.StreamOptions?.UnknownFields, "stream_options") is { } unknownOption) return Fail(unknownOption);
        if (string.IsNullOrWhiteSpace(dto.Model))
            return Fail(ApiError.Invalid("You must provide a model parameter.", "model", "missing_required_parameter"));
        if (dto.Prompt is null)
            return Fail(ApiError.Invalid("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter"));
        if (dto.Prompt.Count == 0)
            return Fail(ApiError.Invalid("'prompt' must not be an empty array.", "prompt", "empty_array"));
        if (dto.Prompt.Tokens?.Any(t => t.Count == 0) == true)
            return Fail(ApiError.Invalid("'prompt' must not hold an empty token array.", "prompt", "empty_array"));
        if (dto.Prompt.Texts?.Any(t => SetMarkers.ContainsAny(t) || t.Contains(PromptMarkers.Image, StringComparison.Ordinal)) == true)
            return Fail(ApiError.Invalid("'prompt' must not contain the platform's set or image markers.", "prompt"));
        if (!string.IsNullOrEmpty(dto.Suffix))
            return Fail(ApiError.Invalid("'suffix' is not supported: the served models have no fill-in-the-middle format.", "suffix",
                "unsupported_parameter"));
        if (dto.MaxTokens is < 1)
            return Fail(ApiError.Invalid($"Invalid 'max_tokens': {dto.MaxTokens}; it must be at least 1.", "max_tokens"));
        if (dto.Temperature is { } t && (float.IsNaN(t) || t < 0 || t > 2))
            return Fail(ApiError.Invalid($"Invalid 'temperature': {t}; it must be between 0 and 2.", "temperature"));
        if (dto.TopP is { } tp && (float.IsNaN(tp) || tp <= 0 || tp > 1))
            return Fail(ApiError.Invalid($"Invalid 'top_p': {tp}; it must be greater than 0 and at most 1.", "top_p"));
        var n = dto.N ?? 1;
        if (n < 1 || n > options.MaxChoices)
            return Fail(ApiError.Invalid($"Invalid 'n': {n}; it must be between 1 and {options.MaxChoices}.", "n"));
        var bestOf = dto.BestOf ?? n;
        if (bestOf < n)
            return Fail(ApiError.Invalid($"Invalid 'best_of': {bestOf}; it must be at least 'n' ({n}).", "best_of"));
        var stream = dto.Stream ?? false;
        if (bestOf > n && stream)
            return Fail(ApiError.Invalid("'best_of' greater than 'n' cannot be streamed.", "best_of"));
        if ((long)bestOf * dto.Prompt.Count > options.MaxChoices)
            return Fail(ApiError.Invalid(
                $"Too many completions: {dto.Prompt.Count} prompt(s) x {bestOf} is over the limit of {options.MaxChoices} per request.", "prompt"));
        if (dto.Logprobs is { } lp && (lp < 0 || lp > MaxLogprobs))
            return Fail(ApiError.Invalid($"Invalid 'logprobs': {lp}; it must be between 0 and {MaxLogprobs}.", "logprobs"));
        var echo = dto.Echo ?? false;
        if (echo && dto.Prompt.Tokens is not null)
            return Fail(ApiError.Invalid("'echo' needs a text prompt; the prompt was given as token ids.", "echo"));
        var stop = dto.Stop ?? [];
        if (stop.Count > options.MaxStopSequences)
            return Fail(ApiError.Invalid($"Invalid 'stop': at most {options.MaxStopSequences} sequences are allowed.", "stop"));
        if (stop.Any(string.IsNullOrEmpty))
            return Fail(ApiError.Invalid("Invalid 'stop': sequences must not be empty.", "stop"));
        if (dto.StreamOptions is not null && !stream)
            return Fail(ApiError.Invalid("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options"));
        var (presence, frequency, bias, samplingError) = SamplingFields.Validate(dto.PresencePenalty, dto.FrequencyPenalty, dto.LogitBias);
        if (samplingError is not null) return Fail(samplingError);

        var sampling = new SamplingParameters(dto.Temperature ?? 1f, dto.TopP ?? 1f, dto.Seed is { } s ? unchecked((ulong)s) : null,
            dto.IgnoreEos ?? false, presence, frequency, bias);
        return (new ValidatedCompletionRequest(dto.Model, dto.Prompt, dto.MaxTokens ?? DefaultMaxTokens, sampling, stop, n, bestOf, stream,
            stream && dto.StreamOptions?.IncludeUsage == true, dto.Logprobs, echo), null);
    }

    private static (ValidatedCompletionRequest?, ApiError?) Fail(ApiError error) => (null, error);
}
