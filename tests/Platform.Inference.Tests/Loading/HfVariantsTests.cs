using System.Text.Json.Nodes;
using Platform.Inference.Loading;
using Platform.Inference.Models.Llama;
using Platform.Inference.Tokenization;
using TorchSharp;
using TorchSharp.PyBridge;
using Xunit;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Loading;

/// <summary>Variations found in real Hugging Face folders.</summary>
public class HfVariantsTests
{
    private const string Sample = "Hello world! Café 日本語 😀 The quick brown fox, 2024.";

    [Fact]
    public void Load_Bf16Checkpoint_ConvertsToFloat32()
    {
        var dir = TestModels.CopyOf(TestModels.Llama);
        using var reference = ModelLoader.Load(TestModels.Llama);
        using (var bf16 = new LlamaForCausalLM(reference.Config))
        {
            bf16.load_safetensors(Path.Combine(TestModels.Llama, "model.safetensors"));
            bf16.to(ScalarType.BFloat16);
            bf16.save_safetensors(Path.Combine(dir, "model.safetensors"));
        }
        Assert.Contains("\"BF16\"", File.ReadAllText(Path.Combine(dir, "model.safetensors"))[..4000]);
        using var m = ModelLoader.Load(dir);
        Assert.Equal(ScalarType.Float32, m.Model.model.embed_tokens.weight!.dtype);
        using var noGrad = no_grad();
        var ids = tensor(new long[] { 5, 80, 300, 17 }).view(1, 4);
        var diff = (m.Model.forward(ids) - reference.Model.forward(ids)).abs().max().item<float>();
        Assert.True(diff > 0 && diff < 0.5f, $"bf16 rounding should change logits slightly, got {diff}");
    }

    [Fact]
    public void Load_MergesAsArrays_SameTokens()
    {
        var dir = TestModels.CopyOf(TestModels.Llama);
        var path = Path.Combine(dir, "tokenizer.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!;
        var merges = json["model"]!["merges"]!.AsArray().Select(m => m!.GetValue<string>().Split(' ')).ToList();
        json["model"]!["merges"] = new JsonArray(merges.Select(p => (JsonNode)new JsonArray(p[0], p[1])).ToArray());
        File.WriteAllText(path, json.ToJsonString());
        var expected = TokenizerLoader.Load(TestModels.Llama).Encode(Sample);
        Assert.Equal(expected, TokenizerLoader.Load(dir).Encode(Sample));
    }

    [Fact]
    public void Load_SplitRegexThenByteLevel_UsesTheSplitPattern()
    {
        // Llama 3 / Qwen2 style: Sequence[Split(Regex), ByteLevel(use_regex=false)].
        var dir = TestModels.CopyOf(TestModels.Llama);
        var path = Path.Combine(dir, "tokenizer.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!;
        json["pre_tokenizer"] = JsonNode.Parse($$"""
            {"type":"Sequence","pretokenizers":[
              {"type":"Split","pattern":{"Regex":{{System.Text.Json.JsonSerializer.Serialize(@"\p{N}|[^\s\p{N}]+|\s+")}}},"behavior":"Isolated","invert":false},
              {"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":false}]}
            """);
        File.WriteAllText(path, json.ToJsonString());
        var tok = TokenizerLoader.Load(dir);
        var ids = tok.Encode("abc 2024");
        Assert.Equal("abc 2024", tok.Decode(ids));
        // Digits are isolated by this pattern: "2024" becomes four single-digit tokens.
        Assert.Equal(new[] { "2", "0", "2", "4" }, ids.TakeLast(4).Select(i => tok.IdToToken(i) ?? "").ToArray());
    }

    [Fact]
    public void Load_EosAsList_AllIdsStop()
    {
        var dir = TestModels.CopyOf(TestModels.Llama);
        var path = Path.Combine(dir, "generation_config.json");
        File.WriteAllText(path, """{"eos_token_id":[0,2],"bos_token_id":null}""");
        using var m = ModelLoader.Load(dir);
        Assert.Contains(0, m.EosTokenIds);
        Assert.Contains(2, m.EosTokenIds);
    }
}
