using Platform.Inference.Engine;
using Platform.Inference.Generation;
using Xunit;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Generation;

public class SamplerTests
{
    private static Tensor Logits(params float[] values) => tensor(values).view(1, values.Length);

    private static SamplingState State(SamplingOptions o, params int[] history) => new(o, history);

    [Fact]
    public void Choose_Greedy_PicksArgmax()
    {
        Assert.Equal(2, Sampler.Choose(Logits(0.1f, 1f, 3f, 2f), [State(SamplingOptions.Greedy)])[0]);
    }

    [Fact]
    public void Choose_SameSeed_SameSequenceOfDraws()
    {
        var o = new SamplingOptions { Temperature = 1f, Seed = 42 };
        var logits = Logits(Enumerable.Range(0, 50).Select(i => (float)Math.Sin(i)).ToArray());
        var s1 = State(o); var s2 = State(o);
        var a = Enumerable.Range(0, 20).Select(_ => Sampler.Choose(logits.clone(), [s1])[0]).ToList();
        var b = Enumerable.Range(0, 20).Select(_ => Sampler.Choose(logits.clone(), [s2])[0]).ToList();
        Assert.Equal(a, b);
        Assert.True(a.Distinct().Count() > 3, "temperature 1 over 50 similar logits should vary");
    }

    [Fact]
    public void Choose_TopK1_EqualsGreedy()
    {
        var o = new SamplingOptions { Temperature = 1.5f, TopK = 1, Seed = 1 };
        var s = State(o);
        for (int i = 0; i < 10; i++) Assert.Equal(3, Sampler.Choose(Logits(1f, 2f, 0f, 2.5f, 2.4f), [s])[0]);
    }

    [Fact]
    public void Choose_TopP_KeepsOnlyNucleus()
    {
        // Probabilities ~ [0.64, 0.24, 0.09, 0.03]: top_p 0.7 keeps the first two only.
        var o = new SamplingOptions { Temperature = 1f, TopP = 0.7f, Seed = 3 };
        var s = State(o);
        var picks = Enumerable.Range(0, 200).Select(_ => Sampler.Choose(Logits(3f, 2f, 1f, 0f), [s])[0]).ToList();
        Assert.All(picks, p => Assert.True(p is 0 or 1));
        Assert.Contains(1, picks);
    }

    [Fact]
    public void Choose_MinP_DropsUnlikelyTokens()
    {
        var o = new SamplingOptions { Temperature = 1f, MinP = 0.2f, Seed = 9 };
        var s = State(o);
        // p(3)/p(0) = e^-3 < 0.2 is dropped; p(1)/p(0) = e^-1 kept.
        var picks = Enumerable.Range(0, 200).Select(_ => Sampler.Choose(Logits(3f, 2f, -5f, 0f), [s])[0]).ToList();
        Assert.DoesNotContain(2, picks);
        Assert.DoesNotContain(3, picks);
        Assert.Contains(1, picks);
    }

    [Fact]
    public void Choose_RepetitionPenalty_DemotesSeenToken()
    {
        var o = SamplingOptions.Greedy with { RepetitionPenalty = 2f };
        Assert.Equal(1, Sampler.Choose(Logits(3f, 2f, 0f), [State(o, 0)])[0]);
        Assert.Equal(0, Sampler.Choose(Logits(3f, 2f, 0f), [State(SamplingOptions.Greedy, 0)])[0]);
    }

    [Fact]
    public void Choose_BatchRows_IndependentOfEachOther()
    {
        var o = new SamplingOptions { Temperature = 1f, Seed = 7 };
        var row = Enumerable.Range(0, 30).Select(i => (float)Math.Cos(i)).ToArray();
        var alone = State(o);
        var inBatch = State(o);
        for (int i = 0; i < 10; i++)
        {
            var single = Sampler.Choose(Logits(row), [alone])[0];
            var batch = Sampler.Choose(tensor(row.Reverse().Concat(row).ToArray()).view(2, 30), [State(SamplingOptions.Greedy), inBatch]);
            Assert.Equal(single, batch[1]);
        }
    }

    [Fact]
    public void Choose_MixedOptionsInOneBatch_SameAsEachAlone()
    {
        var a = new SamplingOptions { Temperature = 0.8f, TopK = 5, Seed = 1 };
        var b = new SamplingOptions { Temperature = 1.3f, TopP = 0.9f, MinP = 0.01f, Seed = 2 };
        var c = new SamplingOptions { Temperature = 1f, Seed = 3 };
        var rowsData = Enumerable.Range(0, 3).Select(k => Enumerable.Range(0, 40).Select(i => (float)Math.Sin(i * (k + 1))).ToArray()).ToArray();
        SamplingState[] alone = [State(a), State(b), State(c)], together = [State(a), State(b), State(c)];
        for (int step = 0; step < 10; step++)
        {
            var batch = Sampler.Choose(tensor(rowsData.SelectMany(x => x).ToArray()).view(3, 40), together);
            for (int r = 0; r < 3; r++) Assert.Equal(Sampler.Choose(Logits(rowsData[r]), [alone[r]])[0], batch[r]);
        }
    }
}
