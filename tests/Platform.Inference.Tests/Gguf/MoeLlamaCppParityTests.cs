using Platform.Inference.Engine;
using Platform.Inference.Gguf;
using Platform.Inference.Loading;
using Platform.Inference.Models;
using Platform.Inference.Models.Olmoe;
using Platform.Inference.Tests.Models.Moe;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Gguf;

/// <summary>Mixture-of-Experts checkpoints exported by <see cref="HfGgufExporter"/> against llama.cpp on the same weights.</summary>
public sealed class MoeLlamaCppParityTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gguf-moe-parity-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string, bool> FamiliesAndLayouts => new()
    {
        { "mixtral", false }, { "mixtral", true }, { "olmoe", false }, { "olmoe", true }, { "qwen2_moe", false }, { "qwen2_moe", true },
    };

    private string Folder(string family, bool fused)
    {
        var config = MoeTestModels.Config(family) with { TieWordEmbeddings = false };
        string folder = TinyModelFactory.Create(Path.Combine(_dir, family), config, seed: 11);
        return fused ? MoeTestModels.ToFusedLayout(folder, Path.Combine(_dir, family + "-fused"), config) : folder;
    }

    [Theory]
    [MemberData(nameof(FamiliesAndLayouts))]
    public async Task ExportedGguf_LogitsAndGreedyTokensMatchLlamaCpp(string family, bool fused)
    {
        string folder = Folder(family, fused), gguf = Path.Combine(_dir, $"{family}-{fused}.gguf");
        var result = HfGgufExporter.ExportFolder(folder, gguf);
        Assert.Equal(family switch { "mixtral" => "llama", "olmoe" => "olmoe", _ => "qwen2moe" }, result.Architecture);
        var meta = GgufReader.Open(gguf).Metadata;
        Assert.Equal(family == "olmoe" ? 8u : 4u, meta[$"{result.Architecture}.expert_count"].AsUInt32());
        Assert.Equal(2u, meta[$"{result.Architecture}.expert_used_count"].AsUInt32());

        using var loaded = ModelLoader.Load(folder);
        var tokens = loaded.Tokenizer.Encode("Hello world! The café, 12 apples.").Concat([1, 2, 300, 511, 0]).ToArray();
        double rel = LlamaCppOracle.MaxRelativeDifference(OurLogits(loaded.Model, tokens), LlamaCppOracle.Logits(gguf, tokens));
        output.WriteLine($"{family} fused={fused}: max relative logit difference over {tokens.Length} positions = {rel:E2}");
        Assert.True(rel <= 1e-4, $"{family}: max relative logit difference {rel:E2}");

        // Greedy continuation: ours through the engine (prefill + span decode), llama.cpp's by argmax over its logits.
        var prompt = tokens[..8];
        var ours = new List<int>();
        await using (var engine = TextEngine.Load("moe", folder, new EngineOptions { Threads = 1 }))
            await foreach (var u in engine.GenerateAsync(new GenerationRequest { PromptTokens = prompt, MaxNewTokens = 8, IgnoreEos = true, Sampling = new SamplingOptions { Temperature = 0 } }, CancellationToken.None))
                ours.AddRange(u.TokenIds);
        var theirs = new List<int>(prompt);
        for (int i = 0; i < 8; i++)
        {
            var last = LlamaCppOracle.Logits(gguf, theirs)[^1];
            theirs.Add(Array.IndexOf(last, last.Max()));
        }
        Assert.Equal(theirs.Skip(prompt.Length), ours);
    }

    [Fact]
    public void Export_OlmoeNormTopkProb_RefusedAsUnsupported()
    {
        var config = (OlmoeConfig)MoeTestModels.Config("olmoe") with { NormTopkProb = true, TieWordEmbeddings = false };
        string folder = TinyModelFactory.Create(Path.Combine(_dir, "olmoe-norm"), config, seed: 1);
        var e = Assert.Throws<NotSupportedException>(() => HfGgufExporter.ExportFolder(folder, Path.Combine(_dir, "x.gguf")));
        Assert.Contains("norm_topk_prob", e.Message);
    }

    private static float[][] OurLogits(Platform.Inference.Models.Llama.LlamaForCausalLM model, int[] tokens)
    {
        using var noGrad = no_grad();
        using var ids = tensor(tokens.Select(t => (long)t).ToArray()).unsqueeze(0);
        using var logits = model.forward(ids);
        return Enumerable.Range(0, tokens.Length).Select(i => logits[0, i].data<float>().ToArray()).ToArray();
    }
}
