using System.Text.Json.Nodes;
using Platform.Inference.Engine;
using Platform.Inference.Loading;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;
using Platform.Inference.Tokenization;
using TorchSharp.PyBridge;
using Xunit;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Loading;

public class ModelLoaderTests
{
    [Fact]
    public void Load_TinyLlamaFolder_ReadsConfigTokenizerTemplateAndEos()
    {
        using var m = ModelLoader.Load(TestModels.Llama);
        Assert.Equal("LlamaForCausalLM", m.Config.Architecture);
        Assert.Equal(2, m.Config.KeyValueHeads);
        Assert.Equal(TokenizerKind.ByteLevelBpe, m.Tokenizer.Kind);
        Assert.Equal("jinja", m.ChatTemplate.Name);   // the folder's own chat_template, run by the interpreter
        Assert.Contains(0, m.EosTokenIds);
        Assert.Null(m.Model.lm_head);   // tied
    }

    [Fact]
    public void Load_MissingConfig_ThrowsNamingConfigJson()
    {
        var dir = TestModels.CopyOf(TestModels.Llama);
        File.Delete(Path.Combine(dir, "config.json"));
        var e = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(dir));
        Assert.Contains("config.json", e.Message);
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void Load_MissingWeights_ThrowsNamingModelSafetensors()
    {
        var dir = TestModels.CopyOf(TestModels.Llama);
        File.Delete(Path.Combine(dir, "model.safetensors"));
        var e = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(dir));
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void Load_UnknownArchitecture_ThrowsNamingArchitecture()
    {
        var dir = TestModels.CopyOf(TestModels.Llama);
        var path = Path.Combine(dir, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!;
        json["architectures"] = new JsonArray("GPTNeoXForCausalLM");
        File.WriteAllText(path, json.ToJsonString());
        var e = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(dir));
        Assert.Contains("config.json", e.Message);
        Assert.Contains("unknown architecture 'GPTNeoXForCausalLM'", e.Message);
    }

    [Fact]
    public void Load_ShapeMismatch_ThrowsNamingTensorAndShapes()
    {
        var dir = TestModels.CopyOf(TestModels.Llama);
        var path = Path.Combine(dir, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!;
        json["intermediate_size"] = 96;
        File.WriteAllText(path, json.ToJsonString());
        var e = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(dir));
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("mlp.", e.Message);
        Assert.Contains("[128, 64]", e.Message);
        Assert.Contains("[96, 64]", e.Message);
    }

    [Fact]
    public void Load_TruncatedSafetensors_ThrowsCorrupt()
    {
        var dir = TestModels.CopyOf(TestModels.Llama);
        var path = Path.Combine(dir, "model.safetensors");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(dir));
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("corrupt", e.Message);
    }

    [Fact]
    public void Load_GarbageSafetensors_ThrowsCorrupt()
    {
        var dir = TestModels.CopyOf(TestModels.Llama);
        File.WriteAllText(Path.Combine(dir, "model.safetensors"), "this is not a safetensors file at all");
        var e = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(dir));
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("corrupt", e.Message);
    }

    [Fact]
    public void Load_MissingTokenizer_ThrowsNamingTokenizerJson()
    {
        var dir = TestModels.CopyOf(TestModels.Llama);
        File.Delete(Path.Combine(dir, "tokenizer.json"));
        var e = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(dir));
        Assert.Contains("tokenizer.json", e.Message);
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void Load_ShardedCheckpoint_GivesSameLogitsAsSingleFile()
    {
        Assert.True(File.Exists(Path.Combine(TestModels.Sharded, "model.safetensors.index.json")));
        Assert.False(File.Exists(Path.Combine(TestModels.Sharded, "model.safetensors")));
        using var sharded = ModelLoader.Load(TestModels.Sharded);
        // The same weights as one file: other test classes draw from torch's global generator in parallel, so a
        // second model made from the same seed is not guaranteed to hold identical weights.
        var singleDir = Path.Combine(Path.GetTempPath(), "single-of-sharded-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(singleDir);
        foreach (var f in Directory.GetFiles(TestModels.Sharded).Where(f => !Path.GetFileName(f).StartsWith("model", StringComparison.Ordinal)))
            File.Copy(f, Path.Combine(singleDir, Path.GetFileName(f)));
        sharded.Model.save_safetensors(Path.Combine(singleDir, "model.safetensors"));
        using var single = ModelLoader.Load(singleDir);
        using var noGrad = no_grad();
        var ids = tensor(new long[] { 5, 80, 300, 17, 42 }).view(1, 5);
        var a = single.Model.forward(ids);
        var b = sharded.Model.forward(ids);
        Assert.Equal(0f, (a - b).abs().max().item<float>());
    }

    [Fact]
    public void Load_ShardMissing_ThrowsNamingShard()
    {
        var dir = TestModels.CopyOf(TestModels.Sharded);
        File.Delete(Path.Combine(dir, "model-00002-of-00002.safetensors"));
        var e = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(dir));
        Assert.Contains("model-00002-of-00002.safetensors", e.Message);
    }

    [Fact]
    public void Load_Qwen2WithBias_LoadsBiasesAndRuns()
    {
        using var m = ModelLoader.Load(TestModels.Qwen2);
        Assert.True(m.Config.IsQwen2);
        var keys = m.Model.state_dict().Keys.ToList();
        Assert.Contains("model.layers.0.self_attn.q_proj.bias", keys);
        Assert.Contains("model.layers.0.self_attn.v_proj.bias", keys);
        Assert.DoesNotContain("model.layers.0.self_attn.o_proj.bias", keys);
        Assert.Contains("lm_head.weight", keys);
        var bias = m.Model.model.layers[0].self_attn.k_proj.bias!;
        Assert.True(bias.abs().sum().item<float>() > 0);
        using var noGrad = no_grad();
        var logits = m.Model.forward(tensor(new long[] { 1, 2, 3 }).view(1, 3));
        Assert.Equal(new long[] { 1, 3, m.Config.VocabSize }, logits.shape);
        Assert.False(logits.isnan().any().item<bool>());
    }

    [Fact]
    public void Load_TiedCheckpointCarryingLmHead_IgnoresDuplicateHead()
    {
        var dir = TestModels.CopyOf(TestModels.Llama);
        var config = ModelLoader.ReadConfig(dir);
        using (var untied = new LlamaForCausalLM(config with { TieWordEmbeddings = false }))
        {
            TorchSharp.PyBridge.PyBridgeModuleExtensions.save_safetensors(untied, Path.Combine(dir, "model.safetensors"));
        }
        using var m = ModelLoader.Load(dir);
        Assert.Null(m.Model.lm_head);
    }

    [Fact]
    public void Load_SentencePieceFolder_UsesLlamaTokenizerAndMistralTemplate()
    {
        using var m = ModelLoader.Load(TestModels.SentencePiece);
        Assert.Equal(TokenizerKind.SentencePiece, m.Tokenizer.Kind);
        Assert.Equal("jinja", m.ChatTemplate.Name);
        Assert.Equal("<s>[INST] Hi [/INST]", m.ChatTemplate.Render([new("user", "Hi")]));
        Assert.Equal(1, m.Tokenizer.BosTokenId);
        Assert.True(m.Tokenizer.AddBos);
    }

    [Fact]
    public void Load_ChatTemplateOverride_WinsOverTokenizerConfig()
    {
        using var m = ModelLoader.Load(TestModels.Llama, chatTemplate: "llama3");
        Assert.Equal("llama3", m.ChatTemplate.Name);
    }

    [Fact]
    public void Load_UnknownChatTemplateOverride_Throws()
    {
        var e = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(TestModels.Llama, chatTemplate: "jinja-magic"));
        Assert.Contains("jinja-magic", e.Message);
    }
}
