using Platform.Inference.Engine;
using Platform.Inference.Engine.Scheduling;
using Platform.Inference.Loading;
using Xunit;

namespace Platform.Inference.Tests.Engine.Scheduling;

public class SequenceFactoryTests
{
    private static int[] EndOfTurnIds(LoadedModel model) =>
        model.ChatTemplate.EndOfTurnTokens.Select(t => model.Tokenizer.TokenToId(t)).OfType<int>().ToArray();

    [Fact]
    public void StopTokens_RawPrompt_RequestTokensAndEos()
    {
        using var model = ModelLoader.Load(TestModels.SentencePiece);
        var stops = new SequenceFactory(model).StopTokens(new GenerationRequest { Prompt = "x", StopTokenIds = [42] }, isChat: false);
        Assert.Equal(model.EosTokenIds.Append(42).Order(), stops.Order());
    }

    [Fact]
    public void StopTokens_ChatPrompt_AddsEndOfTurn()
    {
        using var model = ModelLoader.Load(TestModels.Llama);
        var endOfTurn = EndOfTurnIds(model);
        Assert.NotEmpty(endOfTurn);
        var stops = new SequenceFactory(model).StopTokens(new GenerationRequest { Prompt = "x" }, isChat: true);
        Assert.Equal(model.EosTokenIds.Concat(endOfTurn).Distinct().Order(), stops.Order());
    }

    [Fact]
    public void StopTokens_IgnoreEos_OnlyTheRequestTokens()
    {
        using var model = ModelLoader.Load(TestModels.Llama);
        var stops = new SequenceFactory(model).StopTokens(new GenerationRequest { Prompt = "x", StopTokenIds = [42], IgnoreEos = true }, isChat: true);
        Assert.Equal([42], stops);
    }

    [Fact]
    public void Create_CallerCancels_SequenceCancelled()
    {
        using var model = ModelLoader.Load(TestModels.Llama);
        using var caller = new CancellationTokenSource();
        var request = new GenerationRequest { PromptTokens = [5, 6, 7] };
        var (seq, cts) = new SequenceFactory(model).Create(request, new BuiltPrompt([5, 6, 7], null, false, null), caller.Token);
        using (cts)
        {
            Assert.Equal([5, 6, 7], seq.PromptTokens);
            Assert.False(seq.Cancellation.IsCancellationRequested);
            caller.Cancel();
            Assert.True(seq.Cancellation.IsCancellationRequested);
        }
    }
}
