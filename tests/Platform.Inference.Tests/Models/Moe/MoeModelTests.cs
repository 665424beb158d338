using System.Text.Json;
using Platform.Inference.Engine;
using Platform.Inference.Loading;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;
using Platform.Inference.Models.Mixtral;
using Platform.Inference.Models.Moe;
using Platform.Inference.Models.Olmoe;
using Platform.Inference.Models.Qwen2Moe;
using TorchSharp.PyBridge;
using Xunit;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Models.Moe;

public sealed class MoeModelTests : IDisposable
{
    private static readonly long[] Tokens = [3, 300, 45, 77, 120, 9, 260, 301, 88, 15, 400, 2];
    private readonly string _dir = Directory.CreateTempSubdirectory("moe-models-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string, bool> FamiliesAndLayouts => new()
    {
        { "mixtral", false }, { "mixtral", true }, { "olmoe", false }, { "olmoe", true }, { "qwen2_moe", false }, { "qwen2_moe", true },
    };

    private (string Folder, LlamaConfig Config) Create(string family, bool fused, bool denseLayer = false, int seed = 5)
    {
        var config = MoeTestModels.Config(family, denseLayer);
        string folder = TinyModelFactory.Create(Path.Combine(_dir, $"{family}-{denseLayer}"), config with { TieWordEmbeddings = false }, seed: seed);
        return (fused ? MoeTestModels.ToFusedLayout(folder, Path.Combine(_dir, $"{family}-{denseLayer}-fused"), config) : folder, config);
    }

    [Theory]
    [MemberData(nameof(FamiliesAndLayouts))]
    public void Forward_TinyFolder_MatchesPlainTensorReference(string family, bool fused)
    {
        var (folder, _) = Create(family, fused);
        using var m = ModelLoader.Load(folder);
        Assert.Equal(fused ? ExpertLayout.Fused : ExpertLayout.PerExpert, ((MoeConfig)m.Config).Layout);
        // The reference reads the per-expert checkpoint (the same values as the stacked one).
        var perExpert = fused ? Path.Combine(_dir, $"{family}-False") : folder;
        var weights = Safetensors.LoadStateDict(Path.Combine(perExpert, "model.safetensors"));
        using var noGrad = no_grad();

        var ours = m.Model.forward(tensor(Tokens).unsqueeze(0))[0];
        var reference = MoeReference.Logits(m.Config, weights, Tokens);

        float diff = (ours - reference).abs().max().item<float>();
        Assert.True(diff < 1e-4f, $"{family} fused={fused}: max |logit diff| {diff}");
        Assert.True(reference.std().item<float>() > 0.1f, "logits are not degenerate");
    }

    [Theory]
    [InlineData("olmoe")]
    [InlineData("qwen2_moe")]
    public void Forward_NormTopkProb_RenormalisesAsReference(string family)
    {
        var config = MoeTestModels.Config(family) switch
        {
            OlmoeConfig o => (LlamaConfig)(o with { NormTopkProb = true, TieWordEmbeddings = false }),
            Qwen2MoeConfig q => q with { NormTopkProb = true, TieWordEmbeddings = false },
            _ => throw new ArgumentException(family),
        };
        string folder = TinyModelFactory.Create(Path.Combine(_dir, family + "-norm"), config, seed: 6);
        using var m = ModelLoader.Load(folder);
        Assert.True(((MoeConfig)m.Config).RenormalizeTopK);
        var weights = Safetensors.LoadStateDict(Path.Combine(folder, "model.safetensors"));
        using var noGrad = no_grad();
        var diff = (m.Model.forward(tensor(Tokens).unsqueeze(0))[0] - MoeReference.Logits(m.Config, weights, Tokens)).abs().max().item<float>();
        Assert.True(diff < 1e-4f, $"max |logit diff| {diff}");
    }

    [Fact]
    public void Forward_Qwen2MoeDenseLayer_MatchesReference()
    {
        // mlp_only_layers = [1]: layer 1 is a dense Qwen2MoeMLP at intermediate_size.
        var (folder, _) = Create("qwen2_moe", fused: false, denseLayer: true);
        using var m = ModelLoader.Load(folder);
        Assert.IsType<LlamaMLP>(((Qwen2MoeDecoderLayer)m.Model.model.layers[1]).mlp);
        Assert.IsType<Qwen2MoeSparseMoeBlock>(((Qwen2MoeDecoderLayer)m.Model.model.layers[2]).mlp);
        var weights = Safetensors.LoadStateDict(Path.Combine(folder, "model.safetensors"));
        using var noGrad = no_grad();
        var diff = (m.Model.forward(tensor(Tokens).unsqueeze(0))[0] - MoeReference.Logits(m.Config, weights, Tokens)).abs().max().item<float>();
        Assert.True(diff < 1e-4f, $"max |logit diff| {diff}");
    }

    [Theory]
    [MemberData(nameof(FamiliesAndLayouts))]
    public void Forward_RowDecodeBatch_MatchesTorchPath(string family, bool fused)
    {
        // Three sequences at different positions decode one token each through the span kernels (grouped by
        // expert) and through torch ops; logits and the KV cache must agree.
        var (folder, _) = Create(family, fused);
        using var m = ModelLoader.Load(folder);
        RowDecodeParity.AssertMatchesTorch(m.Model, m.Config, Tokens);
    }

    [Fact]
    public void Route_TopKAndRenormalisation_AsReference()
    {
        // Logits ln(1..4): probabilities 0.1, 0.2, 0.3, 0.4; top-2 = experts 3, 2.
        var logits = tensor(new[] { 0f, MathF.Log(2), MathF.Log(3), MathF.Log(4) }).unsqueeze(0);
        var (plain, experts) = MoeRouting.Route(logits, 2, renormalize: false);
        Assert.Equal([3L, 2L], experts[0].data<long>().ToArray());
        Assert.Equal(0.4f, plain[0, 0].item<float>(), 5);
        Assert.Equal(0.3f, plain[0, 1].item<float>(), 5);
        var (renormalised, _) = MoeRouting.Route(logits, 2, renormalize: true);
        Assert.Equal(4f / 7, renormalised[0, 0].item<float>(), 5);
        Assert.Equal(3f / 7, renormalised[0, 1].item<float>(), 5);

        var probabilities = new float[4];
        var ids = new int[2];
        var weights = new float[2];
        MoeRouting.RouteRow(logits[0].data<float>().ToArray(), probabilities, 2, true, ids, weights);
        Assert.Equal([3, 2], ids);
        Assert.Equal(4f / 7, weights[0], 5);
        MoeRouting.RouteRow(logits[0].data<float>().ToArray(), probabilities, 2, false, ids, weights);
        Assert.Equal(0.3f, weights[1], 5);
    }

    [Fact]
    public void Route_SoftmaxOverAllExperts_NotOnlyTheChosen()
    {
        // Without renormalisation the top-k weights keep the mass of the experts not chosen (sum < 1).
        var logits = tensor(new[] { 2f, 1f, 0f, -1f, 0.5f, 0.25f, 3f, -2f }).unsqueeze(0);
        var (w, e) = MoeRouting.Route(logits, 2, renormalize: false);
        var expected = logits.softmax(-1)[0];
        Assert.Equal([6L, 0L], e[0].data<long>().ToArray());
        Assert.Equal(expected[6].item<float>(), w[0, 0].item<float>(), 6);
        Assert.True(w.sum().item<float>() < 0.9f);
    }

    [Theory]
    [InlineData("mixtral", "model.layers.1.block_sparse_moe.experts.3.w2.weight")]
    [InlineData("olmoe", "model.layers.0.self_attn.k_norm.weight")]
    [InlineData("qwen2_moe", "model.layers.1.mlp.shared_expert_gate.weight")]
    public void Load_MissingTensor_ThrowsNamingIt(string family, string key)
    {
        var (folder, _) = Create(family, fused: false);
        var path = Path.Combine(folder, "model.safetensors");
        var sd = Safetensors.LoadStateDict(path);
        Assert.True(sd.Remove(key));
        Safetensors.SaveStateDict(path, sd);
        var e = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(folder));
        Assert.Contains(key, e.Message);
    }

    [Fact]
    public void Load_FusedExpertsWrongShape_ThrowsWithShapes()
    {
        var config = MoeTestModels.Config("olmoe");
        var (folder, _) = Create("olmoe", fused: true);
        var path = Path.Combine(folder, "model.safetensors");
        var sd = Safetensors.LoadStateDict(path);
        sd["model.layers.0.mlp.experts.down_proj"] = zeros(8, 64, 40);
        Safetensors.SaveStateDict(path, sd);
        var e = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(folder));
        Assert.Contains("model.layers.0.mlp.experts.down_proj", e.Message);
        Assert.Contains("[8, 64, 48]", e.Message);
        Assert.NotNull(config);
    }

    [Fact]
    public void Load_MixedExpertLayouts_Rejected()
    {
        var (folder, _) = Create("mixtral", fused: false);
        var path = Path.Combine(folder, "model.safetensors");
        var sd = Safetensors.LoadStateDict(path);
        sd["model.layers.0.mlp.experts.gate_up_proj"] = zeros(4, 192, 64);
        Safetensors.SaveStateDict(path, sd);
        var e = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(folder));
        Assert.Contains("mixes", e.Message);
    }

    [Theory]
    [InlineData("{\"architectures\":[\"MixtralForCausalLM\"],\"num_local_experts\":4,\"num_experts_per_tok\":5}", "num_experts_per_tok")]
    [InlineData("{\"architectures\":[\"OlmoeForCausalLM\"],\"num_experts\":0}", "experts")]
    [InlineData("{\"architectures\":[\"Qwen2MoeForCausalLM\"],\"decoder_sparse_step\":0}", "decoder_sparse_step")]
    public void ReadConfig_InconsistentExpertFields_ThrowsNamingField(string json, string field)
    {
        var folder = Directory.CreateDirectory(Path.Combine(_dir, Guid.NewGuid().ToString("N"))).FullName;
        File.WriteAllText(Path.Combine(folder, "config.json"), json);
        var e = Assert.Throws<ModelLoadException>(() => ModelLoader.ReadConfig(folder));
        Assert.Contains(field, e.Message);
    }

    [Fact]
    public void Parse_ConfigJson_PicksFamilyClassAndRoundTrips()
    {
        var json = """{"architectures":["Qwen2MoeForCausalLM"],"model_type":"qwen2_moe","hidden_size":64,"num_experts":60,"num_experts_per_tok":4,"moe_intermediate_size":1408,"shared_expert_intermediate_size":5632,"norm_topk_prob":false,"mlp_only_layers":[1,3]}""";
        var config = Assert.IsType<Qwen2MoeConfig>(LlamaConfig.Parse(json));
        Assert.Equal([1, 3], config.MlpOnlyLayers);
        Assert.False(config.IsSparseLayer(3));
        Assert.True(config.HasQkvBias);
        Assert.False(config.HasOutputBias);
        var again = Assert.IsType<Qwen2MoeConfig>(LlamaConfig.Parse(config.ToJson()));
        Assert.Equal(1408, again.MoeIntermediateSize);
        using var doc = JsonDocument.Parse(config.ToJson());
        Assert.Equal(5632, doc.RootElement.GetProperty("shared_expert_intermediate_size").GetInt32());
        Assert.IsType<MixtralConfig>(LlamaConfig.Parse("""{"architectures":["MixtralForCausalLM"]}"""));
        Assert.IsType<OlmoeConfig>(LlamaConfig.Parse("""{"model_type":"olmoe"}"""));
    }

    [Fact]
    public async Task Engine_MoeModel_GeneratesLikeGreedyReference()
    {
        // The served path (scheduler, prefill, span decode) on a Mixtral folder against greedy argmax over the full forward.
        var (folder, _) = Create("mixtral", fused: false);
        await using var engine = TextEngine.Load("moe", folder, new EngineOptions { Threads = 1 });
        var prompt = engine.Model.Tokenizer.Encode("Hello world");
        var updates = new List<int>();
        await foreach (var u in engine.GenerateAsync(new GenerationRequest { PromptTokens = prompt, MaxNewTokens = 6, IgnoreEos = true, Sampling = new SamplingOptions { Temperature = 0 } }, CancellationToken.None))
            updates.AddRange(u.TokenIds);

        using var m = ModelLoader.Load(folder);
        using var noGrad = no_grad();
        var ids = prompt.Select(t => (long)t).ToList();
        for (int i = 0; i < 6; i++)
            ids.Add(m.Model.forward(tensor(ids.ToArray()).unsqueeze(0))[0, -1].argmax().item<long>());
        Assert.Equal(ids.Skip(prompt.Count).Select(x => (int)x), updates);
    }
}
