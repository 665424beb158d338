using Platform.Inference.Engine;
using Platform.Inference.Engine.Scheduling;
using Platform.Inference.Generation;

namespace Platform.Inference.Tests.Engine.Scheduling;

/// <summary>Scheduler sequences built directly, for the classes that work on them without a model.</summary>
internal static class TestSequences
{
    public static Sequence Create(int promptTokens = 3, CancellationToken cancellation = default, GenerationRequest? request = null, HashSet<int>? stops = null)
    {
        var tokens = Enumerable.Range(5, promptTokens).ToArray();
        request ??= new GenerationRequest { PromptTokens = tokens, Sampling = SamplingOptions.Greedy };
        return new Sequence
        {
            Request = request,
            PromptTokens = tokens,
            Sampling = new SamplingState(request.Sampling, tokens),
            Text = new TextStreamAssembler(request.StopStrings),
            StopTokens = stops ?? [],
            Cancellation = cancellation,
        };
    }

    /// <summary>Every update the sequence has written so far.</summary>
    public static List<GenerationUpdate> Updates(Sequence seq)
    {
        var updates = new List<GenerationUpdate>();
        while (seq.Output.Reader.TryRead(out var u)) updates.Add(u);
        return updates;
    }
}
