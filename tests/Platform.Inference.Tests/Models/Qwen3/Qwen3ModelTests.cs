using System.Text.Json.Nodes;
using Platform.Inference.Engine;
using Platform.Inference.Loading;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;
using Platform.Inference.Models.Qwen3;
using Platform.Inference.Tests.Gguf;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Models.Qwen3;

/// <summary>Qwen3ForCausalLM folders: the config class, the per-head q/k norms, and the span decode path against torch.</summary>
public sealed class Qwen3ModelTests : IDisposable
{
    private static readonly long[] Tokens = [5, 77, 300, 12, 411, 9, 88, 140, 3, 61, 250, 17];
    private readonly string _dir = Directory.CreateTempSubdirectory("qwen3-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Create(string name = "q3") => TinyModelFactory.Create(Path.Combine(_dir, name), GgufTestModels.Qwen3QkNorm(), seed: 13);

    [Fact]
    public void Load_Qwen3Folder_Qwen3LayersWithHeadWideNorms()
    {
        using var m = ModelLoader.Load(Create());

        var config = Assert.IsType<Qwen3Config>(m.Config);
        Assert.False(config.HasQkvBias);
        var layer = Assert.IsType<Qwen3DecoderLayer>(m.Model.model.layers[0]);
        var attention = Assert.IsType<Qwen3Attention>(layer.self_attn);
        Assert.Equal([32L], attention.q_norm.weight.shape);
        Assert.Equal([32L], attention.k_norm.weight.shape);
    }

    [Fact]
    public void Forward_QkNorms_ChangeTheLogits()
    {
        // The norms are not dead weights: scaling one head's q_norm changes the output.
        using var m = ModelLoader.Load(Create());
        using var noGrad = no_grad();
        var before = m.Model.forward(tensor(Tokens).unsqueeze(0)).clone();
        var attention = (Qwen3Attention)m.Model.model.layers[0].self_attn;
        attention.q_norm.weight.mul_(3);
        var after = m.Model.forward(tensor(Tokens).unsqueeze(0));
        Assert.True((after - before).abs().max().item<float>() > 1e-3f);
    }

    [Fact]
    public void Forward_RowDecodeBatch_MatchesTorchPath()
    {
        // Three sequences at different positions decode one token each through the span kernels and through torch
        // ops; logits and the KV cache (keys after the k norm and the rotary) must agree.
        using var m = ModelLoader.Load(Create());
        RowDecodeParity.AssertMatchesTorch(m.Model, m.Config, Tokens);
    }

    [Fact]
    public void Load_SlidingWindowOn_FailsNamingIt()
    {
        var folder = Create("sliding");
        var path = Path.Combine(folder, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!;
        json["use_sliding_window"] = true;
        File.WriteAllText(path, json.ToJsonString());

        var e = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(folder));
        Assert.Contains("use_sliding_window", e.Message);
    }
}
