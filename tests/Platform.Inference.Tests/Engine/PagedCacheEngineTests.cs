using System.ComponentModel.DataAnnotations;
using Platform.Inference.Engine;
using Platform.Inference.Models;

namespace Platform.Inference.Tests.Engine;

/// <summary>The engine on its paged KV cache: prefix reuse, a bounded pool, queueing and preemption.</summary>
public sealed class PagedCacheEngineTests
{
    private static EngineOptions Options(int slots = 4, int context = 512, int blocks = 0, bool prefix = true) => new()
    {
        MaxConcurrentSequences = slots, MaxWaitingRequests = 16, MaxContextTokens = context, KvCacheBlocks = blocks, PrefixCaching = prefix,
    };

    private static async Task<List<int>> Tokens(ITextEngine engine, int[] prompt, int max)
    {
        var ids = new List<int>();
        await foreach (var u in engine.GenerateAsync(new GenerationRequest { PromptTokens = prompt, MaxNewTokens = max, Sampling = SamplingOptions.Greedy, StopTokenIds = [], IgnoreEos = true }, default))
            ids.AddRange(u.TokenIds);
        return ids;
    }

    /// <summary>A 40-token "system prompt" then a question of its own (tiny test vocabulary ids).</summary>
    private static int[] Prompt(int question) => [.. Enumerable.Range(0, 40).Select(i => 20 + (i * 37) % 400), 7 + question, 300 + question, 11];

    [Fact]
    public async Task SharedSystemPrompt_PrefilledFromTheCache_SameGreedyTokensAsRecomputing_AndCountsTheHit()
    {
        await using var cached = TextEngine.Load("tiny", TestModels.Llama, Options());
        await using var recompute = TextEngine.Load("tiny", TestModels.Llama, Options(prefix: false));
        var first = await Tokens(cached, Prompt(1), 12);
        var second = await Tokens(cached, Prompt(2), 12);

        Assert.Equal(await Tokens(recompute, Prompt(1), 12), first);
        Assert.Equal(await Tokens(recompute, Prompt(2), 12), second);
        var stats = cached.Stats;
        Assert.Equal(2 * 43, stats.PrefixCacheQueryTokens);
        Assert.Equal(32, stats.PrefixCacheHitTokens);   // the two full 16-token blocks of the shared 40
        Assert.Equal(0, recompute.Stats.PrefixCacheHitTokens);
        Assert.Equal(0, stats.KvCacheUsage);              // nothing running: every block released
    }

    [Fact]
    public async Task DifferentPrefix_Misses()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options());
        await Tokens(engine, Prompt(1), 4);
        var other = Prompt(1);
        other[0] = 401;
        await Tokens(engine, other, 4);
        Assert.Equal(0, engine.Stats.PrefixCacheHitTokens);
    }

    [Fact]
    public async Task BoundedPool_EvictsOldPrefixes_UnderPressure()
    {
        // 8 blocks of 16 tokens: the 43-token prompt + 4 takes 3 and leaves 2 keyed; each 40 + 8 filler takes 3 and
        // leaves 2 more, and the third filler finds no free block but the system prompt's, released first.
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options(slots: 1, blocks: 8));
        await Tokens(engine, Prompt(1), 4);
        for (int i = 0; i < 3; i++)
        {
            var filler = Enumerable.Range(0, 40).Select(t => 100 + i * 50 + t).ToArray();
            await Tokens(engine, filler, 8);   // each caches 2 more blocks
        }
        long before = engine.Stats.PrefixCacheHitTokens;
        await Tokens(engine, Prompt(2), 4);
        Assert.Equal(0, engine.Stats.PrefixCacheHitTokens - before);   // the system prompt's blocks were evicted
    }

    [Fact]
    public async Task FullPool_QueuesAndPreempts_EveryRequestStillGetsItsOwnTokens()
    {
        // 8 blocks of 16 tokens: four 24-token prompts are admitted (2 blocks each) and grow to 63 tokens (4 blocks
        // each): the pool runs out at the first block boundary, the last slots are preempted, recomputed later.
        await using var tight = TextEngine.Load("tiny", TestModels.Llama, Options(slots: 4, context: 64, blocks: 8));
        await using var roomy = TextEngine.Load("tiny", TestModels.Llama, Options(slots: 1, context: 512, prefix: false));
        var prompts = Enumerable.Range(0, 4).Select(i => Enumerable.Range(0, 24).Select(t => 30 + i * 60 + t).ToArray()).ToList();
        var alone = new List<List<int>>();
        foreach (var p in prompts) alone.Add(await Tokens(roomy, p, 39));

        var together = await Task.WhenAll(prompts.Select(p => Tokens(tight, p, 39)));

        for (int i = 0; i < prompts.Count; i++) Assert.Equal(alone[i], together[i]);
        Assert.Equal(8, tight.KvCacheMaxBlocks);
        Assert.True(tight.Stats.Preemptions >= 1, $"preemptions {tight.Stats.Preemptions}");
    }

    [Fact]
    public async Task PromptLargerThanThePool_IsRefusedAtOnce()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options(slots: 1, context: 64, blocks: 2));
        var ex = await Assert.ThrowsAsync<ContextLengthExceededException>(async () => await Tokens(engine, Enumerable.Range(1, 40).ToArray(), 1));
        Assert.Contains("KV cache", ex.Message);
        Assert.Contains("32 tokens", ex.Message);
        Assert.Equal(2, (await Tokens(engine, Enumerable.Range(1, 30).ToArray(), 2)).Count);
    }

    [Fact]
    public async Task LargeContext_StartsWithASmallPool()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options(slots: 8, context: 32_768));
        var c = engine.Model.Config;
        long block = KvCache.BlockBytes(c.NumHiddenLayers, c.KeyValueHeads, c.HeadDimension, 16);
        Assert.Equal((KvCache.DefaultInitialBlocks + 1) * block, engine.KvCacheBytes);
        Assert.Equal(8 * 32_768 / 16, engine.KvCacheMaxBlocks);   // under the 1 GiB default: every slot's full context
    }

    [Theory]
    [InlineData(0, 0, 12)]
    [InlineData(0, 0, 4)]
    [InlineData(64, 8, 16)]
    public void InvalidCacheOptions_FailAtStart(int kvMB, int blocks, int blockTokens)
    {
        var options = Options(blocks: blocks);
        options.KvCacheMB = kvMB;
        options.KvCacheBlockTokens = blockTokens;
        Assert.ThrowsAny<ValidationException>(() => TextEngine.Load("tiny", TestModels.Llama, options));
    }
}
