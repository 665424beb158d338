using Platform.Inference.Engine;
using Platform.Inference.Loading;
using Platform.Inference.Models.Llama;
using Xunit;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Engine;

public class TextEngineEmbeddingsTests
{
    private static EngineOptions Options() => new() { MaxConcurrentSequences = 2, MaxWaitingRequests = 4, MaxContextTokens = 64 };

    private static float[] Reference(int[] tokens, bool mean)
    {
        using var model = ModelLoader.Load(TestModels.Llama);
        using var noGrad = no_grad();
        var (_, normed) = model.Model.model.Forward(new LlamaInputs { InputIds = tensor(tokens.Select(x => (long)x).ToArray()).view(1, -1) });
        var v = mean ? normed[0].mean([0]) : normed[0, -1];
        v = v / v.norm();
        return v.data<float>().ToArray();
    }

    [Theory]
    [InlineData(EmbeddingPooling.LastToken)]
    [InlineData(EmbeddingPooling.Mean)]
    public async Task EmbedAsync_EqualsNormalisedPooledLastHiddenState(EmbeddingPooling pooling)
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options());
        var tokens = engine.TokenizeForEmbedding(["a red circle", "hello"]);
        var vectors = await engine.EmbedAsync(tokens, pooling, null, CancellationToken.None);
        Assert.Equal(2, vectors.Length);
        for (int i = 0; i < 2; i++)
        {
            var expected = Reference(tokens[i], pooling == EmbeddingPooling.Mean);
            Assert.Equal(engine.EmbeddingSize, vectors[i].Length);
            for (int k = 0; k < expected.Length; k++) Assert.Equal(expected[k], vectors[i][k], 4);
        }
        Assert.NotEqual(vectors[0], vectors[1]);
    }

    [Fact]
    public async Task EmbedAsync_Dimensions_TruncatesAndRenormalises()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options());
        var tokens = engine.TokenizeForEmbedding(["a red circle"]);
        var full = (await engine.EmbedAsync(tokens, EmbeddingPooling.LastToken, null, CancellationToken.None))[0];
        var cut = (await engine.EmbedAsync(tokens, EmbeddingPooling.LastToken, 8, CancellationToken.None))[0];
        Assert.Equal(8, cut.Length);
        Assert.Equal(1.0, Math.Sqrt(cut.Sum(x => (double)x * x)), 4);
        var norm = Math.Sqrt(full.Take(8).Sum(x => (double)x * x));
        for (int k = 0; k < 8; k++) Assert.Equal(full[k] / norm, cut[k], 4);
        await Assert.ThrowsAsync<ArgumentException>(() => engine.EmbedAsync(tokens, EmbeddingPooling.LastToken, engine.EmbeddingSize + 1, CancellationToken.None));
    }

    [Fact]
    public async Task EmbedAsync_WhileGenerating_BothFinish()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options());
        var generation = Task.Run(async () =>
        {
            var n = 0;
            await foreach (var u in engine.GenerateAsync(new GenerationRequest { Prompt = "Hi", MaxNewTokens = 40, IgnoreEos = true, Sampling = SamplingOptions.Greedy }, CancellationToken.None))
                n += u.TokenIds.Count;
            return n;
        });
        var vectors = await engine.EmbedAsync(engine.TokenizeForEmbedding(["x y z"]), EmbeddingPooling.Mean, null, CancellationToken.None);
        Assert.Single(vectors);
        Assert.Equal(40, await generation);
    }

    [Fact]
    public async Task TokenizeForEmbedding_TooLong_ThrowsContextLengthExceeded()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options());
        Assert.Throws<ContextLengthExceededException>(() => engine.TokenizeForEmbedding([string.Join(" ", Enumerable.Repeat("word", 200))]));
        Assert.Throws<ArgumentException>(() => engine.TokenizeForEmbedding([""]));
    }
}
