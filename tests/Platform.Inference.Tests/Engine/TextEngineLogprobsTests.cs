using Platform.Inference.Engine;
using Platform.Inference.Loading;
using Xunit;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Engine;

public class TextEngineLogprobsTests
{
    private static EngineOptions Options() => new() { MaxConcurrentSequences = 4, MaxWaitingRequests = 16, MaxContextTokens = 256 };

    private static async Task<List<GenerationUpdate>> Collect(ITextEngine engine, GenerationRequest request)
    {
        var updates = new List<GenerationUpdate>();
        await foreach (var u in engine.GenerateAsync(request, CancellationToken.None)) updates.Add(u);
        return updates;
    }

    [Fact]
    public async Task GenerateAsync_Logprobs_MatchFullRecomputeAndGreedyIsTopOne()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options());
        var prompt = new[] { 5, 300, 45, 77, 120, 9 };
        var updates = await Collect(engine, new GenerationRequest
        {
            PromptTokens = prompt, MaxNewTokens = 6, Sampling = SamplingOptions.Greedy, IgnoreEos = true, Logprobs = 3,
        });
        var entries = updates.Where(u => u.Logprobs is not null).SelectMany(u => u.Logprobs!).ToList();
        var ids = updates.SelectMany(u => u.TokenIds).ToList();
        Assert.Equal(ids.Count, entries.Count);
        Assert.Equal(ids, entries.Select(e => e.TokenId));

        using var reference = ModelLoader.Load(TestModels.Llama);
        using var noGrad = no_grad();
        var seq = prompt.Select(x => (long)x).ToList();
        for (int i = 0; i < entries.Count; i++)
        {
            var logp = reference.Model.forward(tensor(seq.ToArray()).view(1, -1))[0, -1].log_softmax(0);
            Assert.Equal(logp[entries[i].TokenId].item<float>(), entries[i].Logprob, 3);
            Assert.Equal(3, entries[i].Top.Count);
            Assert.Equal(entries[i].TokenId, entries[i].Top[0].TokenId);   // greedy = the most likely token
            Assert.True(entries[i].Top[0].Logprob >= entries[i].Top[1].Logprob && entries[i].Top[1].Logprob >= entries[i].Top[2].Logprob);
            seq.Add(entries[i].TokenId);
        }
    }

    [Fact]
    public async Task PromptLogprobsAsync_MatchFullForwardLogSoftmax()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options());
        var prompt = new[] { 5, 300, 45, 77, 120, 9 };
        var scored = await engine.PromptLogprobsAsync(new GenerationRequest { PromptTokens = prompt }, 2, CancellationToken.None);
        Assert.Equal(prompt, scored.Select(s => s.TokenId));
        Assert.Null(scored[0].Logprob);
        using var reference = ModelLoader.Load(TestModels.Llama);
        using var noGrad = no_grad();
        var logp = reference.Model.forward(tensor(prompt.Select(x => (long)x).ToArray()).view(1, -1))[0].log_softmax(-1);
        for (int i = 1; i < prompt.Length; i++)
        {
            Assert.Equal(logp[i - 1, prompt[i]].item<float>(), scored[i].Logprob!.Value, 3);
            Assert.Equal(2, scored[i].Top!.Count);
            Assert.Equal(logp[i - 1].max().item<float>(), scored[i].Top![0].Logprob, 3);
        }
    }

    [Fact]
    public async Task GenerateAsync_LogitBias100_ForcesTheToken()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options());
        var updates = await Collect(engine, new GenerationRequest
        {
            Prompt = "Hello", MaxNewTokens = 5, IgnoreEos = true,
            Sampling = new SamplingOptions { Temperature = 1f, Seed = 3, LogitBias = new Dictionary<int, float> { [42] = 100f } },
        });
        Assert.Equal(Enumerable.Repeat(42, 5), updates.SelectMany(u => u.TokenIds));
    }

    [Fact]
    public async Task GenerateAsync_LogitBiasOutsideVocabulary_Throws()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options());
        var ex = Assert.Throws<ArgumentException>(() => engine.GenerateAsync(new GenerationRequest
        {
            Prompt = "Hello", MaxNewTokens = 2,
            Sampling = SamplingOptions.Greedy with { LogitBias = new Dictionary<int, float> { [1_000_000] = 1f } },
        }, CancellationToken.None));
        Assert.StartsWith("logit_bias", ex.Message);
    }

    [Fact]
    public async Task GenerateAsync_FrequencyPenalty_ChangesARepetitiveGreedyOutput()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options());
        var request = new GenerationRequest { Prompt = "Hello there", MaxNewTokens = 24, IgnoreEos = true, Sampling = SamplingOptions.Greedy };
        var plain = (await Collect(engine, request)).SelectMany(u => u.TokenIds).ToList();
        var penalised = (await Collect(engine, request with { Sampling = SamplingOptions.Greedy with { FrequencyPenalty = 2f, PresencePenalty = 2f } }))
            .SelectMany(u => u.TokenIds).ToList();
        Assert.True(penalised.Distinct().Count() >= plain.Distinct().Count(),
            $"plain [{string.Join(",", plain)}] penalised [{string.Join(",", penalised)}]");
        Assert.NotEqual(plain, penalised);
    }
}
