using System.Text.Json.Nodes;
using Platform.Inference.Engine;
using Platform.Inference.Loading;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;
using Platform.Inference.Models.Phi3;
using Platform.Inference.Quantization;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Models.Phi3;

/// <summary>Phi3ForCausalLM folders: the fused checkpoint projections, partial rotary, both backends and what is refused.</summary>
public sealed class Phi3ModelTests : IDisposable
{
    private static readonly long[] Tokens = [5, 77, 300, 12, 411, 9, 88, 140, 3, 61, 250, 17];
    private readonly string _dir = Directory.CreateTempSubdirectory("phi3-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Create(string name, Phi3Config config) => TinyModelFactory.Create(Path.Combine(_dir, name), config, seed: 21);

    [Fact]
    public void Load_Phi3Folder_FusedCheckpointModulesUnderTheirHfNames()
    {
        using var m = ModelLoader.Load(Create("keys", Phi3TestModels.Tiny()));

        Assert.IsType<Phi3Config>(m.Config);
        var layer = Assert.IsType<Phi3DecoderLayer>(m.Model.model.layers[0]);
        Assert.IsType<Phi3Attention>(layer.self_attn);
        Assert.IsType<Phi3MLP>(layer.mlp);
        var keys = m.Model.state_dict().Keys.Where(k => k.StartsWith("model.layers.0.", StringComparison.Ordinal)).Order().ToArray();
        Assert.Equal(new[]
        {
            "model.layers.0.input_layernorm.weight", "model.layers.0.mlp.down_proj.weight", "model.layers.0.mlp.gate_up_proj.weight",
            "model.layers.0.post_attention_layernorm.weight", "model.layers.0.self_attn.o_proj.weight", "model.layers.0.self_attn.qkv_proj.weight",
        }, keys);
        var header = SafetensorsHeader.Read(Path.Combine(m.Folder, "model.safetensors"));
        Assert.Equal([(4 + 2 * 2) * 16L, 64], header.Tensors["model.layers.0.self_attn.qkv_proj.weight"].Shape);
        Assert.Equal([2 * 128L, 64], header.Tensors["model.layers.0.mlp.gate_up_proj.weight"].Shape);
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.5)]
    public void Forward_MatchesPlainTensorReference(double partialRotaryFactor)
    {
        var folder = Create($"ref{partialRotaryFactor}", Phi3TestModels.Tiny(partialRotaryFactor));
        using var m = ModelLoader.Load(folder);
        var weights = Safetensors.LoadStateDict(Path.Combine(folder, "model.safetensors"));
        using var noGrad = no_grad();
        var reference = Phi3Reference.Logits((Phi3Config)m.Config, weights, Tokens);

        // The differentiable path (unfused, through qkv_proj / gate_up_proj) and the fused inference path.
        float unfused = (m.Model.forward(tensor(Tokens).unsqueeze(0))[0] - reference).abs().max().item<float>();
        m.Model.FuseForInference();
        float fused = (m.Model.forward(tensor(Tokens).unsqueeze(0))[0] - reference).abs().max().item<float>();

        Assert.True(unfused < 1e-4f, $"unfused max |diff| {unfused}");
        Assert.True(fused < 1e-4f, $"fused max |diff| {fused}");
        Assert.True(reference.abs().max().item<float>() > 0.1f, "the reference logits are not trivially small");
    }

    [Fact]
    public void Forward_PartialRotary_LeavesTrailingDimsUnturned()
    {
        // With factor 0.5 the trailing half of each head passes the rotary unchanged: the cached key of the same
        // token at positions 0 and 9 differs only in its leading 8 dims.
        using var m = ModelLoader.Load(Create("partial", Phi3TestModels.Tiny(0.5)));
        using var noGrad = no_grad();
        using var cache = new KvCache(m.Config, slots: 1, maxTokens: 32);
        long[] ids = [.. Enumerable.Repeat(42L, 10)];
        m.Model.Forward(new LlamaInputs { InputIds = tensor(ids).unsqueeze(0), Cache = new CacheWrite { Cache = cache, FirstSlot = 0, Starts = [0] } });
        // Layer 0's keys depend on the token only (before attention mixes positions): compare position 0 with 9.
        var pool = cache.Keys[0];   // [blocks + 1, kv_heads, block_tokens, head_dim]
        var table = cache.Table(0);
        var at0 = pool[table[0], 0, 0];
        var at9 = pool[table[0], 0, 9];
        Assert.True((at0.narrow(0, 8, 8) - at9.narrow(0, 8, 8)).abs().max().item<float>() < 1e-6f);
        Assert.True((at0.narrow(0, 0, 8) - at9.narrow(0, 0, 8)).abs().max().item<float>() > 1e-3f);
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.5)]
    public void Forward_RowDecodeBatch_MatchesTorchPath(double partialRotaryFactor)
    {
        using var m = ModelLoader.Load(Create($"rows{partialRotaryFactor}", Phi3TestModels.Tiny(partialRotaryFactor, tied: true)));
        RowDecodeParity.AssertMatchesTorch(m.Model, m.Config, Tokens);
    }

    [Fact]
    public void Quantize_Q8_0_RunsTheFusedCheckpointWeights()
    {
        using var m = ModelLoader.Load(Create("q8", Phi3TestModels.Tiny()));
        using var noGrad = no_grad();
        m.Model.FuseForInference();
        var f32 = m.Model.forward(tensor(Tokens).unsqueeze(0)).clone();
        m.Model.QuantizeForInference(QuantType.Q8_0);
        var q8 = m.Model.forward(tensor(Tokens).unsqueeze(0));
        float rel = ((q8 - f32).abs().max() / f32.abs().max()).item<float>();
        Assert.True(rel < 0.05f, $"Q8_0 relative difference {rel}");
        Assert.True(m.Model.QuantizedBytes > 0);
    }

    [Fact]
    public async Task Engine_Phi3Folder_GreedyTokensEqualFullRecompute()
    {
        // The engine (paged cache, prefix caching, row-kernel decode) against argmax over the full uncached forward.
        var folder = Create("engine", Phi3TestModels.Tiny());
        await using var engine = TextEngine.Load("phi3", folder, new EngineOptions { MaxConcurrentSequences = 2, MaxContextTokens = 128 });
        var prompt = Tokens.Select(t => (int)t).ToArray();
        var generated = new List<int>();
        await foreach (var u in engine.GenerateAsync(new GenerationRequest { PromptTokens = prompt, MaxNewTokens = 8, Sampling = SamplingOptions.Greedy, StopTokenIds = [], IgnoreEos = true }, default))
            generated.AddRange(u.TokenIds);

        using var m = ModelLoader.Load(folder);
        using var noGrad = no_grad();
        var expected = new List<long>(Tokens);
        for (int i = 0; i < 8; i++)
            expected.Add(m.Model.forward(tensor(expected.ToArray()).unsqueeze(0))[0, -1].argmax().item<long>());
        Assert.Equal(expected.Skip(Tokens.Length).Select(t => (int)t), generated);
    }

    [Theory]
    [InlineData("longrope")]
    [InlineData("su")]
    public void Load_LongRopeScaling_FailsNamingIt(string type)
    {
        var folder = Create(type, Phi3TestModels.Tiny());
        var path = Path.Combine(folder, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!;
        json["rope_scaling"] = new JsonObject { ["type"] = type, ["short_factor"] = new JsonArray(1.0, 1.0), ["long_factor"] = new JsonArray(2.0, 2.0) };
        File.WriteAllText(path, json.ToJsonString());

        var e = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(folder));
        Assert.Contains($"rope_scaling type '{type}'", e.Message);
        Assert.Contains("config.json", e.Message);
    }

    [Fact]
    public void Load_SeparateQkvTensors_FailsNamingTheUnexpectedTensor()
    {
        // A Phi-3 config over a Llama-layout checkpoint (q_proj/k_proj/v_proj) is a bad folder, not a silent remap.
        var folder = TinyModelFactory.Create(Path.Combine(_dir, "llama-layout"), TinyModelFactory.TinyConfig() with { TieWordEmbeddings = false }, seed: 3);
        File.WriteAllText(Path.Combine(folder, "config.json"), Phi3TestModels.Tiny().ToJson());

        var e = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(folder));
        Assert.Matches(@"unexpected tensor 'model\.layers\.\d+\.(self_attn\.[qkv]_proj|mlp\.(gate|up)_proj)\.weight' \(not in Phi3ForCausalLM", e.Message);
    }

    [Fact]
    public void Parse_ModelTypePhi3WithoutArchitectures_IsPhi3Config()
    {
        var config = LlamaConfig.Parse("""{"model_type": "phi3", "hidden_size": 64, "num_attention_heads": 4, "partial_rotary_factor": 0.75}""");
        var phi3 = Assert.IsType<Phi3Config>(config);
        Assert.Equal(12, phi3.RotaryDimension);
        Assert.Equal("Phi3ForCausalLM", phi3.Architecture);
    }
}
