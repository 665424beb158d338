using Platform.Inference.Engine;
using Platform.Inference.Engine.Scheduling;
using Xunit;

namespace Platform.Inference.Tests.Engine;

public class EngineThreadsTests
{
    private static async Task Generate(TextEngine engine)
    {
        var request = new GenerationRequest { Messages = [new ChatMessage("user", "Hello there")], MaxNewTokens = 4, Sampling = SamplingOptions.Greedy };
        await foreach (var _ in engine.GenerateAsync(request, CancellationToken.None)) { }
    }

    [Fact]
    public async Task Threads_TwoEnginesInOneProcess_EachKeepsItsOwn()
    {
        // A host loads its models first and serves them after. The setting used to be process-wide: the engine
        // loaded last decided every engine's threads.
        await using var one = TextEngine.Load("one", TestModels.Llama, new EngineOptions { Threads = 1, MaxConcurrentSequences = 2, MaxContextTokens = 64 });
        await using var two = TextEngine.Load("two", TestModels.Llama, new EngineOptions { Threads = 2, MaxConcurrentSequences = 2, MaxContextTokens = 64 });
        await Generate(one);
        await Generate(two);
        await Generate(one);
        await Generate(two);
        Assert.Equal(1, one.ThreadsInUse);
        Assert.Equal(2, two.ThreadsInUse);
    }

    [Fact]
    public async Task Threads_DefaultEngineBesideAnotherCount_KeepsTheProcessDefault()
    {
        // Torch gives a thread its count lazily by copying the last value set on any thread: an engine left at 0 used
        // to run with whatever count another engine had set.
        int fallback = EngineThreads.Default;
        await using var other = TextEngine.Load("other", TestModels.Llama, new EngineOptions { Threads = fallback + 1, MaxConcurrentSequences = 2, MaxContextTokens = 64 });
        await Generate(other);
        await using var dflt = TextEngine.Load("default", TestModels.Llama, new EngineOptions { MaxConcurrentSequences = 2, MaxContextTokens = 64 });
        await Generate(dflt);
        await Generate(other);
        Assert.Equal(fallback + 1, other.ThreadsInUse);
        Assert.Equal(fallback, dflt.ThreadsInUse);
    }
}
