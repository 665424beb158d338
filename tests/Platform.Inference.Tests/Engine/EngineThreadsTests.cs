using Platform.Inference.Engine;
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
}
