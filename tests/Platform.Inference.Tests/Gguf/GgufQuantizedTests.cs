using LLama.Native;
using Platform.Inference.Gguf;
using Platform.Inference.Loading;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;
using Platform.Inference.Quantization;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Gguf;

/// <summary>
/// Quantized GGUF files (written by llama.cpp's quantizer through LLamaSharp, and by our exporter) loaded by
/// <see cref="GgufModelLoader"/> and run by our engine against llama.cpp on the same file.
/// </summary>
[Collection(TorchGlobalRngCollection.Name)]
public sealed class GgufQuantizedTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gguf-quant-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string, QuantType> Cases() => new()
    {
        { "llama-gqa", QuantType.Q8_0 }, { "llama-gqa", QuantType.Q4_0 }, { "qwen2-bias", QuantType.Q8_0 }, { "qwen2-bias", QuantType.Q4_0 },
        { "qwen3-qknorm", QuantType.Q8_0 }, { "qwen3-qknorm", QuantType.Q4_0 },
    };

    [Theory]
    [InlineData(QuantType.Q8_0)]
    [InlineData(QuantType.Q4_0)]
    public void LlamaCppQuantizer_SameFloatWeights_SameBlocksAsOurQuantizer(QuantType type)
    {
        var (f32, quantized) = LlamaCppQuantized("llama-gqa", type);
        var source = GgufReader.Open(f32);
        var theirs = GgufReader.Open(quantized);
        int compared = 0;
        foreach (var t in theirs.Tensors.Where(t => t.Type is GgufTensorType.Q8_0 or GgufTensorType.Q4_0))
        {
            var floats = source.ReadF32(t.Name);
            var ours = new byte[t.ByteCount];
            BlockFormats.Quantize((QuantType)(int)t.Type, floats, ours);
            Assert.Equal(theirs.ReadBytes(t), ours);
            compared++;
        }
        // Every linear weight of both layers (q, k, v, o, gate, up, down) plus token_embd.
        Assert.True(compared >= 15, $"only {compared} quantized tensors");
        Assert.Contains(theirs.Tensors, t => t.Type == (GgufTensorType)(int)type);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LlamaCppQuantizedGguf_PrefillAndDecode_LogitsMatchLlamaCpp(string kind, QuantType type)
    {
        var (_, gguf) = LlamaCppQuantized(kind, type);
        using var loaded = ModelLoader.Load(gguf);
        Assert.Equal(type, loaded.Model.WeightType);
        var tokens = loaded.Tokenizer.Encode("Hello world! The café, 12 apples.").Concat([1, 2, 300, 511, 0]).ToArray();
        var reference = LlamaCppOracle.Logits(gguf, tokens);

        double prefill = LlamaCppOracle.MaxRelativeDifference(PrefillLogits(loaded.Model, tokens), reference);
        double decode = LlamaCppOracle.MaxRelativeDifference(DecodeLogits(loaded.Model, tokens), reference);

        output.WriteLine($"{kind} {type}: max relative logit difference prefill {prefill:E2}, decode {decode:E2}");
        // Both engines quantize each activation block to int8 (ggml's quantize_row_q8_0) before the dot products.
        // Away from a rounding midpoint the two agree to ~1e-7; an activation whose float value differs by one ulp
        // (torch's and ggml's norm and attention sum in different orders) across a midpoint moves one int8 by one
        // step, 1/127 of its block's max, which shows as ~8e-3 at that position and, through the KV cache, later ones.
        Assert.True(prefill <= QuantizedParity, $"prefill {prefill:E2}");
        Assert.True(decode <= QuantizedParity, $"decode {decode:E2}");
    }

    /// <summary>One flipped int8 activation rounding (1/127 of a block max) with margin; see the test above.</summary>
    private const double QuantizedParity = 1.5e-2;

    [Theory]
    [MemberData(nameof(Cases))]
    public void LlamaCppQuantizedGguf_Greedy128_SameTokensAsLlamaCpp(string kind, QuantType type)
    {
        var (_, gguf) = LlamaCppQuantized(kind, type);
        using var loaded = ModelLoader.Load(gguf);
        int[] prompt = [5, 77, 300, 12, 411];

        var theirs = LlamaCppOracle.Greedy(gguf, prompt, 128);
        var ours = Greedy(loaded.Model, prompt, 128);

        Assert.Equal(theirs, ours);
    }

    [Theory]
    [InlineData(QuantType.Q8_0)]
    [InlineData(QuantType.Q4_0)]
    public void OurQuantizedExport_LoadsInLlamaCppAndOurs_LogitsMatch(QuantType type)
    {
        string folder = TinyModelFactory.Create(Path.Combine(_dir, "ours"), GgufTestModels.LlamaGqa(), seed: 11);
        string gguf = Path.Combine(_dir, $"ours-{type}.gguf");
        HfGgufExporter.ExportFolder(folder, gguf, type);
        using var loaded = ModelLoader.Load(gguf);
        int[] tokens = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5];

        double rel = LlamaCppOracle.MaxRelativeDifference(DecodeLogits(loaded.Model, tokens), LlamaCppOracle.Logits(gguf, tokens));

        Assert.True(rel <= QuantizedParity, $"max relative logit difference {rel:E2}");
        Assert.Equal(type, loaded.Model.WeightType);
    }

    [Fact]
    public void QuantizeForInference_FloatModel_DecodeEqualsPrefillAndStaysNearFloat()
    {
        string folder = TinyModelFactory.Create(Path.Combine(_dir, "q"), GgufTestModels.LlamaGqa(), seed: 5);
        using var plain = ModelLoader.Load(folder);
        using var quantized = ModelLoader.Load(folder);
        quantized.Model.QuantizeForInference(QuantType.Q8_0);
        int[] tokens = [7, 8, 9, 10, 11, 12];

        var f = PrefillLogits(plain.Model, tokens);
        var p = PrefillLogits(quantized.Model, tokens);
        var d = DecodeLogits(quantized.Model, tokens);

        Assert.True(LlamaCppOracle.MaxRelativeDifference(d, p) < 1e-5, "span decode and torch prefill disagree on quantized weights");
        double vsFloat = LlamaCppOracle.MaxRelativeDifference(p, f);
        output.WriteLine($"Q8_0 vs float32: {vsFloat:E2}");
        Assert.True(vsFloat < 0.05, $"Q8_0 vs float32 {vsFloat:E2}");
        Assert.Throws<InvalidOperationException>(() => quantized.Model.forward(tensor(new long[] { 1, 2 }).unsqueeze(0)));
    }

    [Fact]
    public void Load_UnsupportedTensorType_FailsNamingTheTensor()
    {
        var (f32, _) = (Export("llama-gqa"), "");
        string q5 = Path.Combine(_dir, "q5.gguf");
        LlamaCppOracle.Quantize(f32, q5, LLamaFtype.MOSTLY_Q5_0);
        var e = Assert.Throws<Platform.Inference.Engine.ModelLoadException>(() => ModelLoader.Load(q5));
        Assert.Contains("supported: F32, F16, Q8_0, Q4_0", e.Message);
    }

    private string Export(string kind)
    {
        var config = GgufTestModels.ForKind(kind);
        string folder = TinyModelFactory.Create(Path.Combine(_dir, kind), config, seed: 7), f32 = Path.Combine(_dir, kind + ".gguf");
        if (!File.Exists(f32)) HfGgufExporter.ExportFolder(folder, f32);
        return f32;
    }

    private (string F32, string Quantized) LlamaCppQuantized(string kind, QuantType type)
    {
        string f32 = Export(kind), quantized = Path.Combine(_dir, $"{kind}-{type}.gguf");
        LlamaCppOracle.Quantize(f32, quantized, type == QuantType.Q8_0 ? LLamaFtype.MOSTLY_Q8_0 : LLamaFtype.MOSTLY_Q4_0);
        return (f32, quantized);
    }

    /// <summary>All positions in one forward (the torch path with the quantized kernels for many rows).</summary>
    private static float[][] PrefillLogits(LlamaForCausalLM model, int[] tokens)
    {
        using var noGrad = no_grad();
        using var ids = tensor(tokens.Select(t => (long)t).ToArray()).unsqueeze(0);
        using var logits = model.forward(ids);
        return Enumerable.Range(0, tokens.Length).Select(i => logits[0, i].data<float>().ToArray()).ToArray();
    }

    /// <summary>One token per step through the KV cache (the span decode path the engine times).</summary>
    private static float[][] DecodeLogits(LlamaForCausalLM model, int[] tokens)
    {
        using var noGrad = no_grad();
        model.FuseForInference();
        using var cache = new KvCache(model.Config, 1, tokens.Length + 1);
        var result = new float[tokens.Length][];
        for (int i = 0; i < tokens.Length; i++)
        {
            using var ids = tensor(new long[] { tokens[i] }).view(1, 1);
            using var o = model.Forward(new LlamaInputs { Backend = LlamaBackend.RowKernels, InputIds = ids, Cache = new CacheWrite { Cache = cache, FirstSlot = 0, Starts = [i] } });
            result[i] = o.Logits!.data<float>().ToArray();
        }
        return result;
    }

    /// <summary>Greedy: prompt prefilled in one forward, then span decode steps.</summary>
    private static int[] Greedy(LlamaForCausalLM model, int[] prompt, int steps)
    {
        using var noGrad = no_grad();
        model.FuseForInference();
        using var cache = new KvCache(model.Config, 1, prompt.Length + steps + 1);
        using var ids = tensor(prompt.Select(t => (long)t).ToArray()).unsqueeze(0);
        using var first = model.Forward(new LlamaInputs { InputIds = ids, Cache = new CacheWrite { Cache = cache, FirstSlot = 0, Starts = [0] } });
        int next = first.Logits![0, prompt.Length - 1].argmax().item<long>() is var a ? (int)a : 0;
        var result = new int[steps];
        for (int step = 0; step < steps; step++)
        {
            result[step] = next;
            using var one = tensor(new long[] { next }).view(1, 1);
            using var o = model.Forward(new LlamaInputs { Backend = LlamaBackend.RowKernels, InputIds = one, Cache = new CacheWrite { Cache = cache, FirstSlot = 0, Starts = [prompt.Length + step] } });
            next = (int)o.Logits!.argmax().item<long>();
        }
        return result;
    }
}
