using Platform.Inference.Engine;

namespace Platform.Inference.Tests.Engine;

/// <summary>The last update's <see cref="GenerationUpdate.CachedPromptTokens"/>: the prompt tokens the prefix cache served.</summary>
public sealed class CachedPromptTokensTests
{
    private static async Task<GenerationUpdate> Last(ITextEngine engine, int[] prompt)
    {
        GenerationUpdate? last = null;
        await foreach (var u in engine.GenerateAsync(new GenerationRequest { PromptTokens = prompt, MaxNewTokens = 3, Sampling = SamplingOptions.Greedy, StopTokenIds = [], IgnoreEos = true }, default))
            last = u;
        return last!;
    }

    /// <summary>A 40-token shared prefix then a question of its own (tiny test vocabulary ids).</summary>
    private static int[] Prompt(int question) => [.. Enumerable.Range(0, 40).Select(i => 20 + (i * 37) % 400), 7 + question, 300 + question, 11];

    [Fact]
    public async Task GenerateAsync_SharedPrefix_SecondReportsItsFullCachedBlocks()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, new EngineOptions { MaxConcurrentSequences = 2, MaxContextTokens = 256 });

        var first = await Last(engine, Prompt(1));
        var second = await Last(engine, Prompt(2));

        Assert.NotNull(second.FinishReason);
        Assert.Equal(0, first.CachedPromptTokens);
        Assert.Equal(32, second.CachedPromptTokens);   // the two full 16-token blocks of the shared 40
        Assert.Equal(43, second.PromptTokens);
    }

    [Fact]
    public async Task GenerateAsync_PrefixCachingOff_ReportsZero()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, new EngineOptions { MaxConcurrentSequences = 2, MaxContextTokens = 256, PrefixCaching = false });
        await Last(engine, Prompt(1));
        Assert.Equal(0, (await Last(engine, Prompt(2))).CachedPromptTokens);
    }
}
