using Platform.Inference.Engine;
using Platform.Inference.Generation;
using Xunit;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Generation;

public class LogitAdjustmentsTests
{
    [Fact]
    public void Apply_PresenceAndFrequency_SubtractOpenAiFormula()
    {
        var state = new SamplingState(new SamplingOptions { PresencePenalty = 0.5f, FrequencyPenalty = 0.25f }, [1, 2]);
        // The prompt does not count; token 3 generated twice, token 0 once.
        state.Observe(3);
        state.Observe(0);
        state.Observe(3);
        var row = tensor(new[] { 1f, 1f, 1f, 1f });
        LogitAdjustments.Apply(row, state);
        var v = row.data<float>().ToArray();
        Assert.Equal(1f - 0.25f - 0.5f, v[0], 5);
        Assert.Equal(1f, v[1], 5);
        Assert.Equal(1f, v[2], 5);
        Assert.Equal(1f - 2 * 0.25f - 0.5f, v[3], 5);
    }

    [Fact]
    public void Choose_LogitBias_ChangesGreedyPick()
    {
        var logits = tensor(new[] { 3f, 1f, 2f }).view(1, 3);
        var biased = new SamplingState(SamplingOptions.Greedy with { LogitBias = new Dictionary<int, float> { [1] = 5f } }, []);
        Assert.Equal(1, Sampler.Choose(logits.clone(), [biased])[0]);
        var banned = new SamplingState(SamplingOptions.Greedy with { LogitBias = new Dictionary<int, float> { [0] = -100f } }, []);
        Assert.Equal(2, Sampler.Choose(logits.clone(), [banned])[0]);
    }

    [Fact]
    public void Choose_FrequencyPenalty_OnlyAffectsItsOwnRow()
    {
        var logits = tensor(new[] { 3f, 2.9f, 0f, 3f, 2.9f, 0f }).view(2, 3);
        var penalised = new SamplingState(SamplingOptions.Greedy with { FrequencyPenalty = 1f }, []);
        penalised.Observe(0);
        var plain = new SamplingState(SamplingOptions.Greedy, []);
        plain.Observe(0);
        var picks = Sampler.Choose(logits, [penalised, plain]);
        Assert.Equal([1, 0], picks);
    }
}
