using Platform.Inference.Engine;
using Platform.Inference.Gguf;
using Platform.Inference.Loading;
using Platform.Inference.Models;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Gguf;

public sealed class HfGgufExporterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gguf-export-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ExportFolder_Llama_WritesLlamaHyperparametersAndTensorNames()
    {
        string folder = TinyModelFactory.Create(Path.Combine(_dir, "llama"), GgufTestModels.LlamaGqa()), gguf = Path.Combine(_dir, "llama.gguf");

        var result = HfGgufExporter.ExportFolder(folder, gguf);
        var r = GgufReader.Open(gguf);

        Assert.Equal("llama", result.Architecture);
        Assert.Equal(3u, r.Version);
        Assert.Equal(32u, r.Alignment);
        Assert.Equal("llama", r.Metadata["general.architecture"].AsString());
        Assert.Equal(0u, r.Metadata["general.file_type"].AsUInt32());
        Assert.Equal(512u, r.Metadata["llama.context_length"].AsUInt32());
        Assert.Equal(64u, r.Metadata["llama.embedding_length"].AsUInt32());
        Assert.Equal(2u, r.Metadata["llama.block_count"].AsUInt32());
        Assert.Equal(128u, r.Metadata["llama.feed_forward_length"].AsUInt32());
        Assert.Equal(4u, r.Metadata["llama.attention.head_count"].AsUInt32());
        Assert.Equal(2u, r.Metadata["llama.attention.head_count_kv"].AsUInt32());
        Assert.Equal(16u, r.Metadata["llama.rope.dimension_count"].AsUInt32());
        Assert.Equal(10000f, r.Metadata["llama.rope.freq_base"].AsFloat32());
        Assert.Equal(1e-5f, r.Metadata["llama.attention.layer_norm_rms_epsilon"].AsFloat32());
        Assert.Equal(512u, r.Metadata["llama.vocab_size"].AsUInt32());
        Assert.Equal("gpt2", r.Metadata["tokenizer.ggml.model"].AsString());

        // token_embd, output_norm, output + 9 per layer; every offset aligned.
        Assert.Equal(3 + 9 * 2, r.Tensors.Count);
        Assert.All(r.Tensors, t => Assert.Equal(0ul, t.Offset % 32));
        Assert.Equal([64ul, 512ul], r.Tensor("token_embd.weight").Dimensions);
        Assert.Equal([64ul, 512ul], r.Tensor("output.weight").Dimensions);
        Assert.Equal([64ul, 32ul], r.Tensor("blk.1.attn_k.weight").Dimensions);      // 2 kv heads x 16
        Assert.Equal([128ul, 64ul], r.Tensor("blk.0.ffn_down.weight").Dimensions);
        foreach (var n in new[] { "attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down" })
            Assert.Contains(r.Tensors, t => t.Name == $"blk.1.{n}.weight");
        Assert.DoesNotContain(r.Tensors, t => t.Name.EndsWith(".bias"));
    }

    [Fact]
    public void ExportFolder_Llama_QueryRowsPermutedToInterleavedRope()
    {
        string folder = TinyModelFactory.Create(Path.Combine(_dir, "perm"), GgufTestModels.LlamaGqa()), gguf = Path.Combine(_dir, "perm.gguf");
        HfGgufExporter.ExportFolder(folder, gguf);
        using var loaded = ModelLoader.Load(folder);
        var model = loaded.Model;

        var hf = model.model.layers[0].self_attn.q_proj.weight!.data<float>().ToArray();   // [4*16, 64]
        var stored = GgufReader.Open(gguf).ReadF32("blk.0.attn_q.weight");
        const int d = 16, cols = 64;
        for (int h = 0; h < 4; h++)
            for (int i = 0; i < d / 2; i++)
                for (int j = 0; j < 2; j++)
                {
                    int newRow = h * d + 2 * i + j, oldRow = h * d + j * d / 2 + i;   // pair (i, i+d/2) -> (2i, 2i+1)
                    Assert.Equal(hf[oldRow * cols], stored[newRow * cols]);
                    Assert.Equal(hf[oldRow * cols + cols - 1], stored[newRow * cols + cols - 1]);
                }
    }

    [Fact]
    public void ExportFolder_Qwen2Tied_WritesBiasesUnpermutedAndNoOutputTensor()
    {
        string folder = TinyModelFactory.Create(Path.Combine(_dir, "qwen"), GgufTestModels.Qwen2Bias()), gguf = Path.Combine(_dir, "qwen.gguf");
        using var loaded = ModelLoader.Load(folder);
        var model = loaded.Model;

        var result = HfGgufExporter.ExportFolder(folder, gguf);
        var r = GgufReader.Open(gguf);

        Assert.Equal("qwen2", result.Architecture);
        Assert.Equal("qwen2", r.Metadata["general.architecture"].AsString());
        Assert.Equal(1000000f, r.Metadata["qwen2.rope.freq_base"].AsFloat32());
        Assert.Equal(2u, r.Metadata["qwen2.attention.head_count_kv"].AsUInt32());
        Assert.DoesNotContain(r.Tensors, t => t.Name == "output.weight");   // tied: llama.cpp reuses token_embd
        Assert.Equal(2 + 12 * 2, r.Tensors.Count);                          // 9 weights + q/k/v biases per layer
        Assert.Equal([32ul], r.Tensor("blk.0.attn_k.bias").Dimensions);
        Assert.Equal(model.model.layers[1].self_attn.q_proj.weight!.data<float>().ToArray(), r.ReadF32("blk.1.attn_q.weight"));
        Assert.Equal(model.model.layers[1].self_attn.k_proj.bias!.data<float>().ToArray(), r.ReadF32("blk.1.attn_k.bias"));
    }

    [Fact]
    public void ExportFolder_MissingTensor_ThrowsNamingTensor()
    {
        string folder = TinyModelFactory.Create(Path.Combine(_dir, "missing"), GgufTestModels.LlamaGqa());
        RewriteWeights(folder, sd => sd.Remove("model.layers.1.mlp.up_proj.weight"));

        var e = Assert.Throws<ModelLoadException>(() => HfGgufExporter.ExportFolder(folder, Path.Combine(_dir, "x.gguf")));
        Assert.Contains("model.layers.1.mlp.up_proj.weight", e.Message);
        Assert.False(File.Exists(Path.Combine(_dir, "x.gguf")));
    }

    [Fact]
    public void ExportFolder_UnknownTensor_ThrowsNamingTensor()
    {
        string folder = TinyModelFactory.Create(Path.Combine(_dir, "extra"), GgufTestModels.LlamaGqa());
        RewriteWeights(folder, sd => sd["model.layers.0.mystery.weight"] = zeros(3));

        var e = Assert.Throws<ModelLoadException>(() => HfGgufExporter.ExportFolder(folder, Path.Combine(_dir, "x.gguf")));
        Assert.Contains("model.layers.0.mystery.weight", e.Message);
    }

    [Fact]
    public void ExportFolder_WrongShape_ThrowsNamingTensorAndShapes()
    {
        string folder = TinyModelFactory.Create(Path.Combine(_dir, "shape"), GgufTestModels.LlamaGqa());
        RewriteWeights(folder, sd => sd["model.norm.weight"] = ones(63));

        var e = Assert.Throws<ModelLoadException>(() => HfGgufExporter.ExportFolder(folder, Path.Combine(_dir, "x.gguf")));
        Assert.Contains("model.norm.weight", e.Message);
        Assert.Contains("[63]", e.Message);
    }

    [Fact]
    public void ExportFolder_NoConfig_ThrowsModelLoadExceptionNamingConfig()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "empty"));
        var e = Assert.Throws<ModelLoadException>(() => HfGgufExporter.ExportFolder(Path.Combine(_dir, "empty"), Path.Combine(_dir, "x.gguf")));
        Assert.Contains("config.json", e.Message);
    }

    private static void RewriteWeights(string folder, Action<Dictionary<string, Tensor>> edit)
    {
        string path = Path.Combine(folder, "model.safetensors");
        var sd = Safetensors.LoadStateDict(path);
        edit(sd);
        Safetensors.SaveStateDict(path, sd);
    }
}
