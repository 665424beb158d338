using System.Globalization;

namespace Gateway.Validation;

/// <summary>
/// Checks OpenAI's presence_penalty, frequency_penalty (each -2..2) and logit_bias (token id strings to -100..100,
/// at most <see cref="MaxLogitBiasEntries"/> entries) for chat and text completions. Token ids are checked against
/// the model's vocabulary by the worker.
/// </summary>
public static class SamplingFields
{
    public const int MaxLogitBiasEntries = 300;
    /// <summary>OpenAI's limit for top_logprobs (chat) and the engine's for alternatives per token.</summary>
    public const int MaxTopLogprobs = 20;

    public static (float Presence, float Frequency, IReadOnlyDictionary<int, float>? Bias, ApiError? Error) Validate(
        float? presence, float? frequency, IReadOnlyDictionary<string, float>? logitBias)
    {
        if (presence is { } p && (float.IsNaN(p) || p < -2 || p > 2))
            return Fail(ApiError.Invalid($"Invalid 'presence_penalty': {p}; it must be between -2 and 2.", "presence_penalty"));
        if (frequency is { } f && (float.IsNaN(f) || f < -2 || f > 2))
            return Fail(ApiError.Invalid($"Invalid 'frequency_penalty': {f}; it must be between -2 and 2.", "frequency_penalty"));
        Dictionary<int, float>? bias = null;
        if (logitBias is { Count: > 0 })
        {
            if (logitBias.Count > MaxLogitBiasEntries)
                return Fail(ApiError.Invalid($"Invalid 'logit_bias': at most {MaxLogitBiasEntries} tokens may be biased.", "logit_bias"));
            bias = new Dictionary<int, float>(logitBias.Count);
            foreach (var (key, value) in logitBias)
            {
                if (!int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
                    return Fail(ApiError.Invalid($"Invalid 'logit_bias': key '{key}' is not a token id.", "logit_bias"));
                if (float.IsNaN(value) || value < -100 || value > 100)
                    return Fail(ApiError.Invalid($"Invalid 'logit_bias' value for token {id}: {value}; it must be between -100 and 100.", "logit_bias"));
                bias[id] = value;
            }
        }
        return (presence ?? 0f, frequency ?? 0f, bias, null);
    }

    private static (float, float, IReadOnlyDictionary<int, float>?, ApiError?) Fail(ApiError e) => (0, 0, null, e);
}
