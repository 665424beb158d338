using Platform.Inference.Generation;
using Platform.Inference.Loading;
using Xunit;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Generation;

public class LogprobCalculatorTests
{
    [Fact]
    public void Compute_DividesByTemperatureAndSortsAlternatives()
    {
        using var model = ModelLoader.Load(TestModels.Llama);
        var values = new[] { 2f, 0.5f, -1f, 1f };
        var logits = tensor(values);
        var t = 0.5f;
        var result = LogprobCalculator.Compute(logits, t, chosen: 3, top: 3, model.Tokenizer);
        // log softmax(z / t) by hand
        var scaled = values.Select(v => v / t).ToArray();
        var lse = Math.Log(scaled.Sum(z => Math.Exp(z)));
        Assert.Equal(scaled[3] - lse, result.Logprob, 4);
        Assert.Equal([0, 3, 1], result.Top.Select(a => a.TokenId));
        Assert.Equal(scaled[0] - lse, result.Top[0].Logprob, 4);
        Assert.Equal(model.Tokenizer.TokenBytes(3).ToArray(), result.Bytes);
    }

    [Fact]
    public void Compute_GreedyTemperatureZero_UsesTheRawDistribution()
    {
        using var model = ModelLoader.Load(TestModels.Llama);
        var logits = tensor(new[] { 1f, 2f });
        var result = LogprobCalculator.Compute(logits, 0f, chosen: 1, top: 0, model.Tokenizer);
        Assert.Equal(2 - Math.Log(Math.Exp(1) + Math.Exp(2)), result.Logprob, 4);
        Assert.Empty(result.Top);
    }
}
