namespace Platform.Inference.Engine.Scheduling;

/// <summary>An engine's running totals for its metrics: prompt tokens admitted, tokens generated, preemptions,
/// image slots appended in a prefill's forward.
/// Written on the scheduler thread, read by <see cref="TextEngine.Stats"/> on any thread.</summary>
internal sealed class EngineCounters
{
    private long _promptTokens, _generationTokens, _preemptions, _imageSlotsWithPrefill;

    public long PromptTokens => Interlocked.Read(ref _promptTokens);
    public long GenerationTokens => Interlocked.Read(ref _generationTokens);
    public long Preemptions => Interlocked.Read(ref _preemptions);
    public long ImageSlotsWithPrefill => Interlocked.Read(ref _imageSlotsWithPrefill);

    public void AddPromptTokens(int tokens) => Interlocked.Add(ref _promptTokens, tokens);
    public void AddGenerationTokens(int tokens) => Interlocked.Add(ref _generationTokens, tokens);
    public void CountPreemption() => Interlocked.Increment(ref _preemptions);
    public void AddImageSlotsWithPrefill(int slots) => Interlocked.Add(ref _imageSlotsWithPrefill, slots);
}
