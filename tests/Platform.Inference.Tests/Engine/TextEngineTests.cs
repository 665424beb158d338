using Platform.Inference.Engine;
using Platform.Inference.Loading;
using Platform.Inference.Models.Llama;
using Xunit;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Engine;

public class TextEngineTests
{
    // Requests that must still be running when the test acts on them (cancel, queue, dispose): tiny-model decode
    // takes tens of microseconds a token, so a few thousand tokens can end before the test's next line on a loaded
    // machine. These run until cancelled.
    private const int LongContext = 1 << 17;
    private const int LongRun = LongContext - 8;

    private static EngineOptions Options(int slots = 4, int waiting = 16, int context = 256, int chunk = 512) =>
        new() { MaxConcurrentSequences = slots, MaxWaitingRequests = waiting, MaxContextTokens = context, PrefillChunkTokens = chunk };

    private static async Task<List<GenerationUpdate>> Collect(ITextEngine engine, GenerationRequest request, CancellationToken ct = default)
    {
        var updates = new List<GenerationUpdate>();
        await foreach (var u in engine.GenerateAsync(request, ct)) updates.Add(u);
        return updates;
    }

    private static List<int> Ids(IEnumerable<GenerationUpdate> updates) => updates.SelectMany(u => u.TokenIds).ToList();

    private static GenerationRequest Chat(string text, int max = 12, SamplingOptions? sampling = null) => new()
    {
        Messages = [new ChatMessage("user", text)], MaxNewTokens = max, Sampling = sampling ?? SamplingOptions.Greedy,
    };

    [Fact]
    public async Task GenerateAsync_FixedSeed_IsDeterministicAndSeedMatters()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options());
        var req = Chat("Tell me about the park.", 16, new SamplingOptions { Temperature = 1.5f, TopP = 0.95f, Seed = 11 });
        var a = Ids(await Collect(engine, req));
        var b = Ids(await Collect(engine, req));
        var c = Ids(await Collect(engine, req with { Sampling = req.Sampling with { Seed = 12 } }));
        Assert.Equal(a, b);
        Assert.True(a.Count > 3, $"generated [{string.Join(",", a)}]");
        Assert.NotEqual(a, c);
    }

    [Fact]
    public async Task GenerateAsync_Greedy_MatchesFullRecomputeArgmax()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options());
        var prompt = new[] { 5, 300, 45, 77, 120, 9 };
        var generated = Ids(await Collect(engine, new GenerationRequest { PromptTokens = prompt, MaxNewTokens = 8, Sampling = SamplingOptions.Greedy, StopTokenIds = [] }))
            .Take(8).ToList();
        using var reference = ModelLoader.Load(TestModels.Llama);
        using var noGrad = no_grad();
        var seq = prompt.Select(x => (long)x).ToList();
        var expected = new List<int>();
        for (int i = 0; i < generated.Count; i++)
        {
            var next = (int)reference.Model.forward(tensor(seq.ToArray()).view(1, -1))[0, -1].argmax().item<long>();
            expected.Add(next);
            if (reference.EosTokenIds.Contains(next)) break;
            seq.Add(next);
        }
        Assert.Equal(expected, generated);
    }

    [Fact]
    public async Task GenerateAsync_BatchedEqualsUnbatched()
    {
        var prompts = new[] { "Hello world!", "What is in this image? I see a cat", "Café résumé", "There are 12 apples and 3 oranges in the sky", "The weather", "Generate an image of a mountain lake" };
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options(slots: 4, chunk: 5));
        var requests = prompts.Select((p, i) => new GenerationRequest
        {
            Prompt = p, MaxNewTokens = 10 + i, StopTokenIds = [],
            Sampling = i % 2 == 0 ? SamplingOptions.Greedy : new SamplingOptions { Temperature = 0.9f, TopK = 20, Seed = (ulong)i },
        }).ToList();
        var alone = new List<List<int>>();
        foreach (var r in requests) alone.Add(Ids(await Collect(engine, r)));
        var together = await Task.WhenAll(requests.Select(r => Collect(engine, r)));
        for (int i = 0; i < requests.Count; i++) Assert.Equal(alone[i], Ids(together[i]));
    }

    /// <summary>Keeps the engine stepping, so requests submitted together are admitted together (one prefill forward).</summary>
    private static IAsyncEnumerator<GenerationUpdate> Busy(ITextEngine engine, CancellationToken ct) =>
        engine.GenerateAsync(new GenerationRequest
        {
            PromptTokens = [5, 6, 7], MaxNewTokens = LongRun, Sampling = new SamplingOptions { Temperature = 1f, Seed = 9 }, StopTokenIds = [], IgnoreEos = true,
        }, ct).GetAsyncEnumerator(ct);

    [Fact]
    public async Task GenerateAsync_PromptsJoiningTogether_SameTokensAsAlone()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options(slots: 8, context: LongContext));
        var image = new VisualEmbedding(2, 64, randn([2, 64], generator: new TorchSharp.torch.Generator(5)).reshape(-1).data<float>().ToArray());
        var requests = new List<GenerationRequest>
        {
            new() { Prompt = "Hello world!", MaxNewTokens = 9, StopTokenIds = [], Sampling = SamplingOptions.Greedy },
            new() { Prompt = "There are 12 apples and 3 oranges in the sky, said the", MaxNewTokens = 7, StopTokenIds = [], Sampling = SamplingOptions.Greedy },
            new() { Prompt = "Café", MaxNewTokens = 8, StopTokenIds = [], Sampling = new SamplingOptions { Temperature = 0.9f, TopK = 20, Seed = 4 } },
            new() { Messages = [new ChatMessage("user", "Look: <image> what is it?", [image])], MaxNewTokens = 6, StopTokenIds = [], Sampling = SamplingOptions.Greedy },
        };
        var alone = new List<List<int>>();
        foreach (var r in requests) alone.Add(Ids(await Collect(engine, r)));

        using var busy = new CancellationTokenSource();
        var blocker = Busy(engine, busy.Token);
        Assert.True(await blocker.MoveNextAsync());
        var together = await Task.WhenAll(requests.Select(r => Collect(engine, r)));
        busy.Cancel();
        try { while (await blocker.MoveNextAsync()) { } } catch (OperationCanceledException) { }
        await blocker.DisposeAsync();

        for (int i = 0; i < requests.Count; i++) Assert.Equal(alone[i], Ids(together[i]));
        Assert.All(alone, a => Assert.True(a.Count > 3, $"generated [{string.Join(",", a)}]"));
    }

    [Fact]
    public async Task GenerateAsync_ImageSlotsInTheSameStep_EachEqualsItsOwnAlone()
    {
        await using var engine = TextEngine.Load("gill", TestModels.WithImageTokens, Options(slots: 8, context: LongContext));
        var tok = engine.Model.Tokenizer;
        var img = TestModels.ImageTokens.Select(t => tok.TokenToId(t)!.Value).ToArray();
        GenerationRequest Request(int[] prompt, bool slots = true, int max = 12) => new()
        {
            PromptTokens = prompt, MaxNewTokens = max, Sampling = SamplingOptions.Greedy, StopTokenIds = [], ReportImageSlots = slots,
        };
        // Prompts whose greedy first token is the same; swapping that token's lm_head row with [IMG0]'s makes every one
        // of them start with an image, with different hidden states (different prompts).
        var candidates = Enumerable.Range(0, 40).Select(i => new[] { 260 + i, 301, 302 }).ToList();
        var firsts = new List<int>();
        foreach (var p in candidates) firsts.Add(Ids(await Collect(engine, Request(p, slots: false, max: 1)))[0]);
        var group = firsts.Select((t, i) => (t, i)).GroupBy(x => x.t).OrderByDescending(g => g.Count()).First();
        var prompts = group.Take(4).Select(x => candidates[x.i]).ToList();
        Assert.True(prompts.Count >= 2, "no two candidate prompts share their first greedy token");
        Assert.DoesNotContain(group.Key, img);
        using (no_grad())
        {
            var e = engine.Model.Model.lm_head!.weight!;
            var a = e[group.Key].clone();
            e[group.Key].copy_(e[img[0]]);
            e[img[0]].copy_(a);
        }
        var alone = new List<ImageSlot>();
        foreach (var p in prompts) alone.Add((await Collect(engine, Request(p))).First(u => u.Image is not null).Image!);

        using var busy = new CancellationTokenSource();
        var blocker = Busy(engine, busy.Token);
        Assert.True(await blocker.MoveNextAsync());
        var together = await Task.WhenAll(prompts.Select(p => Collect(engine, Request(p))));
        busy.Cancel();
        try { while (await blocker.MoveNextAsync()) { } } catch (OperationCanceledException) { }
        await blocker.DisposeAsync();

        for (int i = 0; i < prompts.Count; i++)
        {
            var slot = together[i].First(u => u.Image is not null).Image!;
            Assert.Equal(img, together[i].First(u => u.Image is not null).TokenIds);
            var diff = alone[i].HiddenStates.Zip(slot.HiddenStates).Max(p => Math.Abs(p.First - p.Second));
            Assert.True(diff < 1e-4f, $"prompt {i}: max |batched - alone| {diff}");
            Assert.Equal(alone[i].InputEmbeddings, slot.InputEmbeddings);
        }
        var between = alone[0].HiddenStates.Zip(alone[1].HiddenStates).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(between > 1e-3f, "the prompts' image states are equal: a mix-up between rows would go unnoticed");
    }

    [Fact]
    public async Task GenerateAsync_MaxNewTokens_FinishesWithLengthAndUsage()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options());
        var req = new GenerationRequest { PromptTokens = [5, 6, 7], MaxNewTokens = 5, Sampling = new SamplingOptions { Temperature = 1f, Seed = 1 }, StopTokenIds = [] };
        var model = engine.Model;
        // Never stop on EOS for this check: sample from a model whose EOS is not reachable is not guaranteed, so allow either.
        var updates = await Collect(engine, req);
        var last = updates[^1];
        Assert.NotNull(last.FinishReason);
        Assert.Equal(3, last.PromptTokens);
        Assert.Equal(Ids(updates).Count + (last.FinishReason == "stop" ? 1 : 0), last.CompletionTokens);
        if (last.FinishReason == "length") Assert.Equal(5, last.CompletionTokens);
        Assert.All(updates.Take(updates.Count - 1), u => Assert.Null(u.FinishReason));
        Assert.True(engine.Stats.GenerationTokensTotal >= last.CompletionTokens);
        Assert.NotNull(model.Tokenizer);
    }

    [Fact]
    public async Task GenerateAsync_StopString_TruncatesWithoutLeaking()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options());
        var req = new GenerationRequest { Prompt = "The quick brown", MaxNewTokens = 24, Sampling = new SamplingOptions { Temperature = 1.2f, Seed = 5 }, StopTokenIds = [] };
        var full = string.Concat((await Collect(engine, req)).Select(u => u.TextDelta));
        Assert.True(full.Length >= 6, $"need some text to cut, got '{full}'");
        var stop = full.Substring(full.Length / 2, 2);
        int cut = full.IndexOf(stop, StringComparison.Ordinal);
        var updates = await Collect(engine, req with { StopStrings = [stop] });
        var text = string.Concat(updates.Select(u => u.TextDelta));
        Assert.Equal(full[..cut], text);
        Assert.Equal("stop", updates[^1].FinishReason);
    }

    [Fact]
    public async Task GenerateAsync_StopTokenId_EndsWithStop()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options());
        var baseline = await Collect(engine, new GenerationRequest { PromptTokens = [5, 6, 7], MaxNewTokens = 6, Sampling = SamplingOptions.Greedy, StopTokenIds = [] });
        var third = Ids(baseline)[2];
        var stopped = await Collect(engine, new GenerationRequest { PromptTokens = [5, 6, 7], MaxNewTokens = 6, Sampling = SamplingOptions.Greedy, StopTokenIds = [third] });
        Assert.Equal("stop", stopped[^1].FinishReason);
        Assert.DoesNotContain(third, Ids(stopped).Take(Ids(stopped).IndexOf(third) < 0 ? int.MaxValue : 0));
        Assert.True(Ids(stopped).Count <= 2);
    }

    [Fact]
    public async Task GenerateAsync_IgnoreEos_RunsPastTheModelsEndTokenToMaxTokens()
    {
        // A model whose end-of-sequence id is the very token greedy decoding picks first: a normal request stops at
        // once; with IgnoreEos it runs to MaxNewTokens, still honouring an explicit stop id.
        var request = new GenerationRequest { PromptTokens = [5, 6, 7], MaxNewTokens = 6, Sampling = SamplingOptions.Greedy };
        int first;
        await using (var plain = TextEngine.Load("tiny", TestModels.Llama, Options()))
            first = Ids(await Collect(plain, request with { StopTokenIds = [] }))[0];
        var loaded = ModelLoader.Load(TestModels.Llama);
        var endsAtFirst = new LoadedModel
        {
            Folder = loaded.Folder, Config = loaded.Config, Model = loaded.Model, Tokenizer = loaded.Tokenizer,
            ChatTemplate = loaded.ChatTemplate, GenerationConfig = loaded.GenerationConfig, Device = loaded.Device, EosTokenIds = [first],
        };
        await using var engine = new TextEngine("tiny", endsAtFirst, Options());

        var stopped = await Collect(engine, request);
        Assert.Equal("stop", stopped[^1].FinishReason);
        Assert.True(Ids(stopped).Count <= 1, $"generated [{string.Join(",", Ids(stopped))}]");

        var ignored = await Collect(engine, request with { IgnoreEos = true });
        Assert.Equal("length", ignored[^1].FinishReason);
        Assert.Equal(6, Ids(ignored).Count);
        Assert.Equal(first, Ids(ignored)[0]);

        var second = Ids(ignored)[1];
        var explicitStop = await Collect(engine, request with { IgnoreEos = true, StopTokenIds = [second] });
        Assert.Equal("stop", explicitStop[^1].FinishReason);
        Assert.DoesNotContain(Ids(ignored)[2], Ids(explicitStop));
    }

    [Fact]
    public async Task GenerateAsync_Cancelled_EndsWithCancelledAndFreesSlot()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options(slots: 1, context: LongContext));
        using var cts = new CancellationTokenSource();
        var updates = new List<GenerationUpdate>();
        var req = new GenerationRequest { PromptTokens = [5, 6, 7], MaxNewTokens = LongRun, Sampling = new SamplingOptions { Temperature = 1f, Seed = 3 }, StopTokenIds = [], IgnoreEos = true };
        await foreach (var u in engine.GenerateAsync(req with { StopTokenIds = Enumerable.Range(0, 0).ToArray() }, cts.Token))
        {
            updates.Add(u);
            if (updates.Count == 3) cts.Cancel();
        }
        Assert.Equal("cancelled", updates[^1].FinishReason);
        // The single slot is free again: a new request completes.
        var next = await Collect(engine, new GenerationRequest { PromptTokens = [1, 2], MaxNewTokens = 2, Sampling = SamplingOptions.Greedy });
        Assert.NotNull(next[^1].FinishReason);
    }

    [Fact]
    public async Task GenerateAsync_ConsumerStopsEarly_SlotIsReleased()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options(slots: 1, waiting: 0, context: LongContext));
        var req = new GenerationRequest { PromptTokens = [5, 6, 7], MaxNewTokens = LongRun, Sampling = new SamplingOptions { Temperature = 1f, Seed = 3 }, StopTokenIds = [], IgnoreEos = true };
        await foreach (var _ in engine.GenerateAsync(req, default)) break;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (engine.Stats.Running > 0 && DateTime.UtcNow < deadline) await Task.Delay(10);
        Assert.Equal(0, engine.Stats.Running);
    }

    [Fact]
    public async Task GenerateAsync_QueueFull_ThrowsEngineFullException()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options(slots: 1, waiting: 1, context: LongContext));
        var longReq = new GenerationRequest { PromptTokens = [5, 6, 7], MaxNewTokens = LongRun, Sampling = new SamplingOptions { Temperature = 1f, Seed = 1 }, StopTokenIds = [], IgnoreEos = true };
        using var cts = new CancellationTokenSource();
        var first = engine.GenerateAsync(longReq, cts.Token);
        var second = engine.GenerateAsync(longReq, cts.Token);
        var e = Assert.Throws<EngineFullException>(() => engine.GenerateAsync(longReq, cts.Token));
        Assert.Contains("full", e.Message);
        cts.Cancel();
        await foreach (var _ in first) { }
        await foreach (var _ in second) { }
    }

    [Fact]
    public async Task GenerateAsync_CancelledWhileWaiting_EndsWithoutASlot()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options(slots: 1, waiting: 4, context: LongContext));
        using var running = new CancellationTokenSource();
        using var waiting = new CancellationTokenSource();
        var longReq = new GenerationRequest { PromptTokens = [5, 6, 7], MaxNewTokens = LongRun, Sampling = new SamplingOptions { Temperature = 1f, Seed = 1 }, StopTokenIds = [], IgnoreEos = true };
        var first = engine.GenerateAsync(longReq, running.Token).GetAsyncEnumerator();
        Assert.True(await first.MoveNextAsync());   // the first request holds the only slot
        var queued = Collect(engine, longReq, waiting.Token);
        waiting.Cancel();
        var updates = await queued.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal("cancelled", updates.Single().FinishReason);
        Assert.Equal(0, updates.Single().CompletionTokens);
        Assert.Equal(1, engine.Stats.Running);
        running.Cancel();
        while (await first.MoveNextAsync()) { }
        await first.DisposeAsync();
    }

    [Fact]
    public async Task GenerateAsync_PromptLongerThanContext_ThrowsContextLengthExceeded()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options(context: 16));
        var req = new GenerationRequest { PromptTokens = Enumerable.Range(3, 20).ToArray() };
        Assert.Throws<ContextLengthExceededException>(() => engine.CountPromptTokens(req));
        Assert.Throws<ContextLengthExceededException>(() => engine.GenerateAsync(req, default));
    }

    [Fact]
    public async Task GenerateAsync_ContextFills_FinishesWithLength()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options(context: 12));
        var updates = await Collect(engine, new GenerationRequest { PromptTokens = [5, 6, 7, 8], MaxNewTokens = 100, Sampling = new SamplingOptions { Temperature = 1f, Seed = 2 }, StopTokenIds = [] });
        Assert.Contains(updates[^1].FinishReason, new[] { "length", "stop" });
        Assert.True(updates[^1].CompletionTokens <= 8, $"{updates[^1].CompletionTokens} completion tokens after a 4-token prompt in a 12-token context");
    }

    [Fact]
    public async Task GenerateAsync_ChunkedPrefill_SameTokensAsOneChunk()
    {
        var prompt = Enumerable.Range(0, 60).Select(i => 260 + (i * 7) % 200).ToArray();
        var req = new GenerationRequest { PromptTokens = prompt, MaxNewTokens = 8, Sampling = SamplingOptions.Greedy, StopTokenIds = [] };
        List<int> whole, chunked;
        await using (var engine = TextEngine.Load("tiny", TestModels.Llama, Options(chunk: 512))) whole = Ids(await Collect(engine, req));
        await using (var engine = TextEngine.Load("tiny", TestModels.Llama, Options(chunk: 7))) chunked = Ids(await Collect(engine, req));
        Assert.Equal(whole, chunked);
    }

    [Fact]
    public async Task CountPromptTokens_ChatRequest_CountsRenderedTemplate()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options());
        var req = Chat("Hello world!");
        var expected = engine.Model.Tokenizer.Encode("<|im_start|>user\nHello world!<|im_end|>\n<|im_start|>assistant\n").Count;
        Assert.Equal(expected, engine.CountPromptTokens(req));
    }

    [Fact]
    public async Task GenerateAsync_ImageSlots_ReportsHiddenStatesOfAllImageTokens()
    {
        await using var engine = TextEngine.Load("gill", TestModels.WithImageTokens, Options());
        var tok = engine.Model.Tokenizer;
        var img = TestModels.ImageTokens.Select(t => tok.TokenToId(t)!.Value).ToArray();
        var prompt = new[] { 300, 301, 302 };
        // Make [IMG0] the greedy choice: swap its lm_head row (untied head) with the token the model would pick.
        var first = Ids(await Collect(engine, new GenerationRequest { PromptTokens = prompt, MaxNewTokens = 1, Sampling = SamplingOptions.Greedy, StopTokenIds = [] }))[0];
        Assert.DoesNotContain(first, img);
        using (no_grad())
        {
            var e = engine.Model.Model.lm_head!.weight!;
            var a = e[first].clone();
            e[first].copy_(e[img[0]]);
            e[img[0]].copy_(a);
        }
        var updates = await Collect(engine, new GenerationRequest { PromptTokens = prompt, MaxNewTokens = 12, Sampling = SamplingOptions.Greedy, StopTokenIds = [], ReportImageSlots = true });
        // [IMG0] is the first choice, so the first update is the image slot (the model may emit more later).
        var withImage = updates[0];
        Assert.NotNull(withImage.Image);
        Assert.Equal(img, withImage.TokenIds);
        var slot = withImage.Image!;
        Assert.Equal(8, slot.Tokens);
        Assert.Equal(64, slot.Hidden);
        Assert.DoesNotContain("[IMG", string.Concat(updates.Select(u => u.TextDelta)));

        // Reference: full forward over prompt + [IMG0..7]; last-layer states before the final norm.
        using var noGrad = no_grad();
        var ids = tensor(prompt.Concat(img).Select(x => (long)x).ToArray()).view(1, -1);
        var reference = engine.Model.Model.Forward(new LlamaInputs { InputIds = ids, HiddenStatePositions = arange(3, 11).view(1, 8), SkipLogits = true });
        var expected = reference.HiddenStates!.reshape(-1).data<float>().ToArray();
        Assert.Equal(expected.Length, slot.HiddenStates.Length);
        var maxDiff = expected.Zip(slot.HiddenStates).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(maxDiff < 1e-3f * Math.Max(1f, expected.Max(Math.Abs)), $"max |diff| {maxDiff}, max |h| {expected.Max(Math.Abs)}");
        var embeds = engine.Model.Model.model.embed_tokens.forward(tensor(img.Select(x => (long)x).ToArray())).reshape(-1).data<float>().ToArray();
        Assert.Equal(embeds, slot.InputEmbeddings);
    }

    /// <summary>The image-tokens model with an image slot context of <paramref name="context"/> words.</summary>
    private static TextEngine WithImageSlotContext(int context, EngineOptions? options = null)
    {
        var loaded = ModelLoader.Load(TestModels.WithImageTokens);
        return new TextEngine("gill", new LoadedModel
        {
            Folder = loaded.Folder, Config = loaded.Config, Model = loaded.Model, Tokenizer = loaded.Tokenizer, ChatTemplate = loaded.ChatTemplate,
            GenerationConfig = loaded.GenerationConfig, Device = loaded.Device, EosTokenIds = loaded.EosTokenIds, ImageSlotContext = context,
        }, options ?? Options());
    }

    /// <summary>Swaps two rows of the untied head, so that greedy decoding picks <paramref name="b"/> where it picked <paramref name="a"/>.</summary>
    private static void SwapHeadRows(TextEngine engine, int a, int b)
    {
        using var _ = no_grad();
        var e = engine.Model.Model.lm_head!.weight!;
        var row = e[a].clone();
        e[a].copy_(e[b]);
        e[b].copy_(row);
    }

    [Fact]
    public async Task GenerateAsync_ImageSlotContext_ReportsTheLastWordsBeforeTheImageTokens()
    {
        await using var engine = WithImageSlotContext(2);
        var img = TestModels.ImageTokens.Select(t => engine.Model.Tokenizer.TokenToId(t)!.Value).ToArray();
        var prompt = new[] { 300, 301, 302 };
        var greedy = Ids(await Collect(engine, new GenerationRequest { PromptTokens = prompt, MaxNewTokens = 4, Sampling = SamplingOptions.Greedy, StopTokenIds = [] }));
        Assert.Equal(4, greedy.Distinct().Count());
        Assert.Empty(greedy.Intersect(img));
        // [IMG0] becomes the fourth greedy choice; the first three stay (their logits' maxima are untouched).
        SwapHeadRows(engine, greedy[3], img[0]);
        var updates = await Collect(engine, new GenerationRequest { PromptTokens = prompt, MaxNewTokens = 16, Sampling = SamplingOptions.Greedy, StopTokenIds = [], ReportImageSlots = true });
        int at = updates.FindIndex(u => u.Image is not null);
        Assert.Equal(greedy.Take(3), updates.Take(at).SelectMany(u => u.TokenIds));
        var slot = updates[at].Image!;
        Assert.Equal(2 + 8, slot.Tokens);

        // Reference: one forward over prompt, the three words and [IMG0..7]; the last two words and the image tokens.
        using var noGrad = no_grad();
        var all = prompt.Concat(greedy.Take(3)).Concat(img).Select(x => (long)x).ToArray();
        var reference = engine.Model.Model.Forward(new LlamaInputs { InputIds = tensor(all).view(1, -1), HiddenStatePositions = arange(4, 14).view(1, 10), SkipLogits = true });
        var expected = reference.HiddenStates!.reshape(-1).data<float>().ToArray();
        Assert.Equal(expected.Length, slot.HiddenStates.Length);
        var maxDiff = expected.Zip(slot.HiddenStates).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(maxDiff < 1e-3f * Math.Max(1f, expected.Max(Math.Abs)), $"max |diff| {maxDiff}, max |h| {expected.Max(Math.Abs)}");
        var embeds = engine.Model.Model.model.embed_tokens.forward(tensor(all[4..])).reshape(-1).data<float>().ToArray();
        Assert.Equal(embeds, slot.InputEmbeddings);
    }

    [Fact]
    public async Task GenerateAsync_ImageSlotWhileAPromptPrefills_SharesThePrefillForwardAndEqualsAlone()
    {
        // Chunks of 4 tokens: B's 40-token prompt prefills over 10 steps, while A (3 tokens) answers one word and then
        // [IMG0] from a decode step, so A's image tokens are due in a step that prefills a chunk of B.
        await using var engine = WithImageSlotContext(2, Options(slots: 8, chunk: 4));
        var img = TestModels.ImageTokens.Select(t => engine.Model.Tokenizer.TokenToId(t)!.Value).ToArray();
        var promptA = new[] { 300, 301, 302 };
        var greedy = Ids(await Collect(engine, new GenerationRequest { PromptTokens = promptA, MaxNewTokens = 3, Sampling = SamplingOptions.Greedy, StopTokenIds = [] }));
        Assert.Equal(3, greedy.Distinct().Count());
        Assert.Empty(greedy.Intersect(img));
        SwapHeadRows(engine, greedy[1], img[0]);
        GenerationRequest Request(int[] prompt, int max) => new()
        {
            PromptTokens = prompt, MaxNewTokens = max, Sampling = SamplingOptions.Greedy, StopTokenIds = [], ReportImageSlots = true,
        };
        var a = Request(promptA, 12);
        var b = Request(Enumerable.Range(310, 40).ToArray(), 6);
        var aloneA = await Collect(engine, a);
        var aloneB = await Collect(engine, b);
        var slotAlone = aloneA.First(u => u.Image is not null).Image!;
        Assert.Equal(1 + 8, slotAlone.Tokens);
        Assert.Equal(0, engine.Stats.ImageSlotsWithPrefill);

        // A is queued first, so it prefills first; whether B is admitted in time for A's image step depends on the
        // scheduler thread, so the pair runs again until the image tokens shared a prefill forward (or twenty tries:
        // the tiny model makes a try cheap, and a loaded CI host can lose the race several times in a row).
        for (int attempt = 0; attempt < 20 && engine.Stats.ImageSlotsWithPrefill == 0; attempt++)
        {
            var together = await Task.WhenAll(Collect(engine, a), Collect(engine, b));
            Assert.Equal(Ids(aloneA), Ids(together[0]));
            Assert.Equal(Ids(aloneB), Ids(together[1]));
            var slot = together[0].First(u => u.Image is not null).Image!;
            Assert.Equal(slotAlone.Tokens, slot.Tokens);
            var diff = slotAlone.HiddenStates.Zip(slot.HiddenStates).Max(p => Math.Abs(p.First - p.Second));
            Assert.True(diff < 1e-4f, $"max |joined - alone| {diff}");
            Assert.Equal(slotAlone.InputEmbeddings, slot.InputEmbeddings);
        }
        Assert.True(engine.Stats.ImageSlotsWithPrefill > 0, "A's image tokens never shared B's prefill forward");
    }

    [Fact]
    public async Task GenerateAsync_ImageSlotContextAtTheAnswersStart_ReportsOnlyTheImageTokens()
    {
        await using var engine = WithImageSlotContext(10);
        var img = TestModels.ImageTokens.Select(t => engine.Model.Tokenizer.TokenToId(t)!.Value).ToArray();
        var prompt = new[] { 300, 301, 302 };
        var first = Ids(await Collect(engine, new GenerationRequest { PromptTokens = prompt, MaxNewTokens = 1, Sampling = SamplingOptions.Greedy, StopTokenIds = [] }))[0];
        SwapHeadRows(engine, first, img[0]);
        var updates = await Collect(engine, new GenerationRequest { PromptTokens = prompt, MaxNewTokens = 12, Sampling = SamplingOptions.Greedy, StopTokenIds = [], ReportImageSlots = true });
        // The prompt's tokens are never words of the answer: the slot has the image tokens alone.
        Assert.Equal(8, updates[0].Image!.Tokens);
    }

    [Fact]
    public async Task GenerateAsync_VisualEmbeddings_SplicedAtPlaceholder()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options());
        var model = engine.Model;
        var visual = randn([2, 64], generator: new TorchSharp.torch.Generator(3));
        var image = new VisualEmbedding(2, 64, visual.reshape(-1).data<float>().ToArray());
        var req = new GenerationRequest
        {
            Messages = [new ChatMessage("user", "Look: <image> what is it?", [image])], MaxNewTokens = 1, Sampling = SamplingOptions.Greedy, StopTokenIds = [],
        };
        var token = Ids(await Collect(engine, req))[0];

        var before = model.Tokenizer.Encode("<|im_start|>user\nLook: ");
        var after = model.Tokenizer.Encode(" what is it?<|im_end|>\n<|im_start|>assistant\n");
        Assert.Equal(before.Count + 2 + after.Count, engine.CountPromptTokens(req));
        using var noGrad = no_grad();
        var e = model.Model.model.embed_tokens;
        var embeds = cat([e.forward(tensor(before.Select(x => (long)x).ToArray())), visual, e.forward(tensor(after.Select(x => (long)x).ToArray()))], 0).unsqueeze(0);
        var expected = (int)model.Model.Forward(new LlamaInputs { InputsEmbeds = embeds }).Logits![0, -1].argmax().item<long>();
        Assert.Equal(expected, token);

        var bad = req with { Messages = [new ChatMessage("user", "two <image> <image>", [image])] };
        Assert.Throws<ArgumentException>(() => engine.GenerateAsync(bad, default));
    }

    [Fact]
    public async Task DisposeAsync_WhileStreaming_EndsStreamWithCancelled()
    {
        var engine = TextEngine.Load("tiny", TestModels.Llama, Options(slots: 1, context: LongContext));
        using var cts = new CancellationTokenSource();
        var req = new GenerationRequest { PromptTokens = [5, 6, 7], MaxNewTokens = LongRun, Sampling = new SamplingOptions { Temperature = 1f, Seed = 3 }, StopTokenIds = [], IgnoreEos = true };
        var updates = new List<GenerationUpdate>();
        await foreach (var u in engine.GenerateAsync(req, cts.Token))
        {
            updates.Add(u);
            if (updates.Count == 2) await engine.DisposeAsync();
        }
        Assert.Equal("cancelled", updates[^1].FinishReason);
        cts.Cancel();   // a late cancellation after disposal is harmless
        Assert.Throws<ObjectDisposedException>(() => engine.GenerateAsync(req, default));
    }

    [Fact]
    public void Load_BadFolder_ThrowsModelLoadException()
    {
        var e = Assert.Throws<ModelLoadException>(() => TextEngine.Load("x", Path.Combine(TestModels.Root, "does-not-exist"), Options()));
        Assert.Contains("does-not-exist", e.Message);
    }

    [Fact]
    public void Load_InvalidOptions_ThrowsValidation()
    {
        Assert.Throws<System.ComponentModel.DataAnnotations.ValidationException>(() => TextEngine.Load("x", TestModels.Llama, new EngineOptions { MaxConcurrentSequences = 0 }));
    }
}
