using Platform.Inference.Models;

namespace Platform.Inference.Tests.Models;

public sealed class KvBlocksTests
{
    private static int[] Range(int start, int count) => Enumerable.Range(start, count).ToArray();

    [Fact]
    public void AttachPrefix_AfterRegisterAndFree_ReusesTheFullBlocksAndLeavesATokenToPrefill()
    {
        var config = TinyModelFactory.TinyConfig();
        using var cache = new KvCache(config, slots: 2, maxTokens: 128, blockTokens: 8);
        var prompt = Range(100, 24);   // three full blocks
        cache.Ensure(0, prompt.Length);
        cache.RegisterPrefix(0, prompt, prompt.Length);
        var blocks = cache.Table(0).ToArray();
        cache.Free(0);
        Assert.Equal(3, cache.Blocks.Cached);
        Assert.Equal(0, cache.Blocks.InUse);

        // The same prompt: two blocks from the cache (the last token must be prefilled for its logits).
        Assert.Equal(16, cache.AttachPrefix(1, prompt));
        Assert.Equal(blocks[..2], cache.Table(1).ToArray());
        Assert.Equal(2, cache.Blocks.InUse);
        Assert.Equal(1, cache.Blocks.Cached);
        Assert.Equal(24, cache.Blocks.PrefixQueryTokens);
        Assert.Equal(16, cache.Blocks.PrefixHitTokens);

        // A longer prompt with the same start takes all three; a second holder shares them (count 2).
        Assert.Equal(24, cache.AttachPrefix(0, [.. prompt, 7, 8]));
        Assert.Equal(2, cache.Blocks.RefCount(blocks[0] - 1));
        Assert.Equal(1, cache.Blocks.RefCount(blocks[2] - 1));
    }

    [Fact]
    public void AttachPrefix_DifferentFirstBlock_Misses_AndLaterBlocksAreKeyedByTheirParents()
    {
        var config = TinyModelFactory.TinyConfig();
        using var cache = new KvCache(config, slots: 2, maxTokens: 128, blockTokens: 8);
        var prompt = Range(100, 17);
        cache.Ensure(0, prompt.Length);
        cache.RegisterPrefix(0, prompt, prompt.Length);
        cache.Free(0);

        var other = prompt.ToArray();
        other[3] = 9;   // first block differs, second block equal: its key includes the parent, so no hit
        Assert.Equal(0, cache.AttachPrefix(1, other));
        Assert.Empty(cache.Table(1).ToArray());
        Assert.Equal(0, cache.Blocks.PrefixHitTokens);
    }

    [Fact]
    public void Allocate_PoolAtItsBound_EvictsTheLeastRecentlyReleasedCachedBlock()
    {
        var config = TinyModelFactory.TinyConfig();
        using var cache = new KvCache(config, slots: 3, maxTokens: 64, blockTokens: 8, maxBlocks: 4);
        var a = Range(1, 17);
        var b = Range(50, 17);
        cache.Ensure(0, 16); cache.RegisterPrefix(0, a, 16); cache.Free(0);   // a's 2 blocks cached first
        cache.Ensure(0, 16); cache.RegisterPrefix(0, b, 16); cache.Free(0);   // then b's
        Assert.Equal(4, cache.Blocks.Cached);

        cache.Ensure(2, 16);   // no free block: evicts a's two (released first)

        Assert.Equal(2, cache.Blocks.Evictions);
        Assert.Equal(0, cache.AttachPrefix(0, a));
        Assert.Equal(16, cache.AttachPrefix(1, b));
        Assert.False(cache.TryEnsure(0, 8));   // all four referenced now
    }

    [Fact]
    public void Acquire_KeyOfOtherTokens_IsRefused()
    {
        var blocks = new KvBlocks(4, 8, 4, n => n);
        int id = blocks.Allocate();
        var tokens = Range(0, 8);
        var key = KvBlocks.Key(KvBlocks.Root, tokens);
        blocks.Register(id, key, tokens);
        blocks.Release(id);

        Assert.Equal(-1, blocks.Acquire(key, Range(1, 8)));   // same key (as a collision would be), other tokens
        Assert.Equal(id, blocks.Acquire(key, tokens));
        Assert.Throws<InvalidOperationException>(() => { blocks.Release(id); blocks.Release(id); });
    }
}
