using LLama.Native;
using Platform.Inference.Engine;
using Platform.Inference.Gguf;
using Platform.Inference.Loading;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;
using Platform.Inference.Models.Phi3;
using Platform.Inference.Quantization;
using Platform.Inference.Tests.Models.Phi3;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Gguf;

/// <summary>Phi3ForCausalLM exported to llama.cpp's "phi3" architecture against llama.cpp on the same weights, and the
/// exported file loaded back into the engine.</summary>
public sealed class Phi3LlamaCppParityTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gguf-phi3-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The folder name becomes general.name. Not "phi3...": llama.cpp then sets attributes on Phi-3's SentencePiece
    /// tokens (&lt;s&gt;, &lt;/s&gt;, &lt;unk&gt;) by name, which this test vocabulary does not have, and refuses the file.</summary>
    private string Folder(string name, double partialRotaryFactor, bool tied) =>
        TinyModelFactory.Create(Path.Combine(_dir, "tiny-" + name), Phi3TestModels.Tiny(partialRotaryFactor, tied), seed: 5);

    public static TheoryData<double, bool> Variants => new() { { 1.0, false }, { 0.5, true } };

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task ExportedGguf_LogitsOnBothBackendsAndGreedyTokensMatchLlamaCpp(double partialRotaryFactor, bool tied)
    {
        string folder = Folder($"rotary-{partialRotaryFactor}", partialRotaryFactor, tied), gguf = Path.Combine(_dir, $"rotary-{partialRotaryFactor}.gguf");
        var result = HfGgufExporter.ExportFolder(folder, gguf);
        Assert.Equal("phi3", result.Architecture);
        var file = GgufReader.Open(gguf);
        Assert.Equal((uint)(16 * partialRotaryFactor), file.Metadata["phi3.rope.dimension_count"].AsUInt32());
        Assert.Equal([(4 + 2 * 2) * 16L, 64], file.Tensors.Single(t => t.Name == "blk.0.attn_qkv.weight").TorchShape);
        Assert.Equal([2 * 128L, 64], file.Tensors.Single(t => t.Name == "blk.0.ffn_up.weight").TorchShape);
        Assert.DoesNotContain(file.Tensors, t => t.Name is "blk.0.attn_q.weight" or "blk.0.ffn_gate.weight");

        using var loaded = ModelLoader.Load(folder);
        var tokens = loaded.Tokenizer.Encode("Hello world! The café, 12 apples.").Concat([1, 2, 300, 511, 0]).ToArray();
        var theirs = LlamaCppOracle.Logits(gguf, tokens);
        double torchRel = LlamaCppOracle.MaxRelativeDifference(TorchLogits(loaded.Model, tokens), theirs);
        double rowRel = LlamaCppOracle.MaxRelativeDifference(RowKernelLogits(loaded.Model, loaded.Config, tokens), theirs);
        output.WriteLine($"phi3 partial_rotary_factor={partialRotaryFactor}: max relative logit difference over {tokens.Length} positions: torch {torchRel:E2}, row kernels {rowRel:E2}");
        Assert.True(torchRel <= 1e-4, $"torch path: max relative logit difference {torchRel:E2}");
        Assert.True(rowRel <= 1e-4, $"row-kernel decode path: max relative logit difference {rowRel:E2}");

        // Greedy continuation: ours through the engine (prefill, paged cache, span decode), llama.cpp's own greedy loop.
        var prompt = tokens[..8];
        var ours = new List<int>();
        await using (var engine = TextEngine.Load("phi3", folder, new EngineOptions { Threads = 1 }))
            await foreach (var u in engine.GenerateAsync(new GenerationRequest { PromptTokens = prompt, MaxNewTokens = 16, IgnoreEos = true, StopTokenIds = [], Sampling = SamplingOptions.Greedy }, CancellationToken.None))
                ours.AddRange(u.TokenIds);
        Assert.Equal(LlamaCppOracle.Greedy(gguf, prompt, 16), ours);
    }

    [Fact]
    public void GgufLoad_ExportedPhi3File_SameLogitsAsTheFolder()
    {
        string folder = Folder("reload", 0.5, tied: false), gguf = Path.Combine(_dir, "reload.gguf");
        HfGgufExporter.ExportFolder(folder, gguf);

        using var fromFolder = ModelLoader.Load(folder);
        using var fromGguf = ModelLoader.Load(gguf);

        var config = Assert.IsType<Phi3Config>(fromGguf.Config);
        Assert.Equal(8, config.RotaryDimension);
        Assert.Equal(256, config.SlidingWindow);
        int[] tokens = [5, 77, 300, 12, 411, 9, 88, 140];
        var a = TorchLogits(fromFolder.Model, tokens);
        var b = TorchLogits(fromGguf.Model, tokens);
        Assert.True(LlamaCppOracle.MaxRelativeDifference(a, b) < 1e-6);
    }

    [Theory]
    [InlineData(QuantType.Q8_0)]
    [InlineData(QuantType.Q4_0)]
    public void GgufLoad_QuantizedPhi3FileFromLlamaCppQuantizer_MatchesLlamaCpp(QuantType type)
    {
        // llama.cpp's own quantizer writes the file; our engine runs those very blocks (fused attn_qkv and ffn_up).
        string folder = Folder($"q-{type}", 1.0, tied: false), f32 = Path.Combine(_dir, $"{type}-f32.gguf"), quantized = Path.Combine(_dir, $"{type}.gguf");
        HfGgufExporter.ExportFolder(folder, f32);
        LlamaCppOracle.Quantize(f32, quantized, type == QuantType.Q8_0 ? LLamaFtype.MOSTLY_Q8_0 : LLamaFtype.MOSTLY_Q4_0);
        Assert.Equal((GgufTensorType)(int)type, GgufReader.Open(quantized).Tensors.Single(t => t.Name == "blk.0.attn_qkv.weight").Type);

        using var loaded = ModelLoader.Load(quantized);
        Assert.Equal(type, loaded.Model.WeightType);
        int[] tokens = [5, 77, 300, 12, 411, 9, 88, 140, 3, 61, 250, 17];
        var theirs = LlamaCppOracle.Logits(quantized, tokens);
        double torchRel = LlamaCppOracle.MaxRelativeDifference(TorchLogits(loaded.Model, tokens), theirs);
        double rowRel = LlamaCppOracle.MaxRelativeDifference(RowKernelLogits(loaded.Model, loaded.Config, tokens), theirs);
        output.WriteLine($"phi3 {type} (llama.cpp's quantizer): max relative logit difference: torch {torchRel:E2}, row kernels {rowRel:E2}");
        Assert.True(torchRel <= 1e-3, $"torch path: max relative logit difference {torchRel:E2}");
        Assert.True(rowRel <= 1e-3, $"row-kernel decode path: max relative logit difference {rowRel:E2}");
        Assert.Equal(LlamaCppOracle.Greedy(quantized, tokens[..6], 16), Greedy(loaded.Model, loaded.Config, tokens[..6], 16));
    }

    /// <summary>Greedy continuation on the row-kernel decode path, token by token from an empty cache.</summary>
    private static int[] Greedy(LlamaForCausalLM model, LlamaConfig config, int[] prompt, int steps)
    {
        var all = new List<int>(prompt);
        for (int i = 0; i < steps; i++)
        {
            var last = RowKernelLogits(model, config, [.. all])[^1];
            all.Add(Array.IndexOf(last, last.Max()));
        }
        return [.. all.Skip(prompt.Length)];
    }

    [Fact]
    public void Export_HeadsTimesHeadDimNotHidden_RefusedAsUnsupported()
    {
        var config = Phi3TestModels.Tiny() with { HeadDim = 32 };
        string folder = TinyModelFactory.Create(Path.Combine(_dir, "wide"), config, seed: 1);
        var e = Assert.Throws<NotSupportedException>(() => HfGgufExporter.ExportFolder(folder, Path.Combine(_dir, "wide.gguf")));
        Assert.Contains("head_dim", e.Message);
    }

    private static float[][] TorchLogits(LlamaForCausalLM model, int[] tokens)
    {
        using var noGrad = no_grad();
        using var ids = tensor(tokens.Select(t => (long)t).ToArray()).unsqueeze(0);
        using var logits = model.forward(ids);
        return Enumerable.Range(0, tokens.Length).Select(i => logits[0, i].data<float>().ToArray()).ToArray();
    }

    /// <summary>The span decode path the engine times: one token per step through <see cref="LlamaBackend.RowKernels"/>.</summary>
    private static float[][] RowKernelLogits(LlamaForCausalLM model, LlamaConfig config, int[] tokens)
    {
        model.FuseForInference();
        using var noGrad = no_grad();
        using var cache = new KvCache(config, slots: 1, maxTokens: tokens.Length);
        var result = new float[tokens.Length][];
        for (int i = 0; i < tokens.Length; i++)
        {
            using var ids = tensor(new long[] { tokens[i] }).view(1, 1);
            using var step = model.Forward(new LlamaInputs { Backend = LlamaBackend.RowKernels, InputIds = ids, Cache = new CacheWrite { Cache = cache, FirstSlot = 0, Starts = [i] } });
            result[i] = step.Logits![0, 0].data<float>().ToArray();
        }
        return result;
    }
}
