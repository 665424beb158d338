using Platform.Inference.Generation;

namespace Platform.Inference.Engine.Scheduling;

/// <summary>The checks a request passes before its prompt is built: token budget, sampling ranges, logprobs count,
/// logit_bias ids inside the vocabulary. Each failure is an ArgumentException naming the field and its range.</summary>
internal static class RequestValidator
{
    public static void Validate(GenerationRequest r, int outputVocabulary)
    {
        if (r.MaxNewTokens <= 0) throw new ArgumentException($"MaxNewTokens must be positive, got {r.MaxNewTokens}");
        var s = r.Sampling ?? throw new ArgumentException("Sampling is required");
        if (s.Temperature < 0 || float.IsNaN(s.Temperature)) throw new ArgumentException($"Temperature must be >= 0, got {s.Temperature}");
        if (s.TopK < 0) throw new ArgumentException($"TopK must be >= 0, got {s.TopK}");
        if (!(s.TopP > 0 && s.TopP <= 1)) throw new ArgumentException($"TopP must be in (0, 1], got {s.TopP}");
        if (!(s.MinP >= 0 && s.MinP < 1)) throw new ArgumentException($"MinP must be in [0, 1), got {s.MinP}");
        if (!(s.RepetitionPenalty > 0)) throw new ArgumentException($"RepetitionPenalty must be > 0, got {s.RepetitionPenalty}");
        if (r.Logprobs is < 0 or > LogprobCalculator.MaxTop) throw new ArgumentException($"Logprobs must be in [0, {LogprobCalculator.MaxTop}], got {r.Logprobs}");
        if (s.LogitBias is { } bias)
            foreach (var id in bias.Keys)
                if (id < 0 || id >= outputVocabulary) throw new ArgumentException($"logit_bias token {id} is outside the vocabulary (0..{outputVocabulary - 1})");
    }
}
