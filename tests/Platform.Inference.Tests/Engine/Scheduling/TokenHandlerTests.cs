using Platform.Inference.Engine;
using Platform.Inference.Engine.Scheduling;
using Platform.Inference.Loading;
using Xunit;

namespace Platform.Inference.Tests.Engine.Scheduling;

public class TokenHandlerTests
{
    private const int Context = 64;

    private static (TokenHandler Handler, EngineCounters Counters) Create(LoadedModel model, int[]? imageSlotTokens = null)
    {
        var counters = new EngineCounters();
        return (new TokenHandler(model, Context, imageSlotTokens ?? [], counters), counters);
    }

    private static GenerationRequest Request(int max = 8, bool imageSlots = false) =>
        new() { PromptTokens = [5, 6, 7], MaxNewTokens = max, Sampling = SamplingOptions.Greedy, ReportImageSlots = imageSlots };

    [Fact]
    public void Handle_PlainToken_EmitsItsTextAndFeedsItNext()
    {
        using var model = ModelLoader.Load(TestModels.Llama);
        var (handler, counters) = Create(model);
        var seq = TestSequences.Create(request: Request());
        int token = model.Tokenizer.Encode("a").Single();
        handler.Handle(seq, token);
        var update = Assert.Single(TestSequences.Updates(seq));
        Assert.Equal("a", update.TextDelta);
        Assert.Equal([token], update.TokenIds);
        Assert.Equal(1, update.CompletionTokens);
        Assert.False(seq.Finished);
        Assert.Equal(token, seq.PendingToken);
        Assert.Equal(1, counters.GenerationTokens);
    }

    [Fact]
    public void Handle_StopToken_FinishesWithStop()
    {
        using var model = ModelLoader.Load(TestModels.Llama);
        var (handler, _) = Create(model);
        var seq = TestSequences.Create(request: Request(), stops: [9]);
        handler.Handle(seq, 9);
        Assert.Equal("stop", seq.FinishReason);
        Assert.Equal([9], seq.Completion);
    }

    [Fact]
    public void Handle_TokenBudgetReached_FinishesWithLength()
    {
        using var model = ModelLoader.Load(TestModels.Llama);
        var (handler, _) = Create(model);
        var seq = TestSequences.Create(request: Request(max: 2));
        handler.Handle(seq, 40);
        Assert.False(seq.Finished);
        handler.Handle(seq, 41);
        Assert.Equal("length", seq.FinishReason);
    }

    [Fact]
    public void Handle_ContextFull_FinishesWithLength()
    {
        using var model = ModelLoader.Load(TestModels.Llama);
        var (handler, _) = Create(model);
        var seq = TestSequences.Create(request: Request());
        seq.CacheLength = Context - 1;
        handler.Handle(seq, 40);
        Assert.Equal("length", seq.FinishReason);
    }

    [Fact]
    public void Handle_FirstImageTokenWithImageSlots_WaitsForTheSlot()
    {
        using var model = ModelLoader.Load(TestModels.WithImageTokens);
        var imageTokens = ImageSlots.FindTokens(model.Tokenizer);
        Assert.Equal(TestModels.ImageTokens.Length, imageTokens.Length);
        var (handler, _) = Create(model, imageTokens);
        var seq = TestSequences.Create(request: Request(imageSlots: true));
        handler.Handle(seq, imageTokens[0]);
        Assert.True(seq.PendingImage);
        Assert.Equal(imageTokens[0], seq.PendingToken);
        Assert.Empty(TestSequences.Updates(seq));

        // Without ReportImageSlots [IMG0] is an ordinary token.
        var plain = TestSequences.Create(request: Request());
        handler.Handle(plain, imageTokens[0]);
        Assert.False(plain.PendingImage);
        Assert.Single(TestSequences.Updates(plain));
    }
}
