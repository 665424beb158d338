using Platform.Inference.Loading;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;
using Xunit;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Models;

public class LlamaForCausalLMTests
{
    private static readonly long[] Tokens = [3, 300, 45, 77, 120, 9, 260, 301, 88, 15, 400, 2];

    private static Tensor Ids(params long[] ids) => tensor(ids).view(1, ids.Length);

    /// <summary>A test model with fused weights, as the engine serves it (the span decode path needs fusion).</summary>
    private static LoadedModel LoadFused(string folder)
    {
        var m = ModelLoader.Load(folder);
        m.Model.FuseForInference();
        return m;
    }

    [Fact]
    public void Forward_KvCacheDecoding_MatchesFullRecomputation()
    {
        using var m = ModelLoader.Load(TestModels.Llama);
        using var noGrad = no_grad();
        var full = m.Model.forward(Ids(Tokens));   // [1, T, V]
        using var cache = new KvCache(m.Config, slots: 2, maxTokens: 32);
        // Prefill 5 tokens into slot 1, then decode the rest one by one.
        var prefill = m.Model.Forward(new LlamaInputs { InputIds = Ids(Tokens[..5]), Cache = new CacheWrite { Cache = cache, FirstSlot = 1, Starts = [0] } });
        Assert.True((prefill.Logits! - full.narrow(1, 0, 5)).abs().max().item<float>() < 1e-4f);
        for (int t = 5; t < Tokens.Length; t++)
        {
            var step = m.Model.Forward(new LlamaInputs { InputIds = Ids(Tokens[t]), Cache = new CacheWrite { Cache = cache, FirstSlot = 1, Starts = [t] } });
            var diff = (step.Logits![0, 0] - full[0, t]).abs().max().item<float>();
            Assert.True(diff < 1e-4f, $"position {t}: max |diff| {diff}");
        }
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("qwen2")]
    public void Forward_RowDecode_MatchesTorchPathAndWritesSameCache(string family)
    {
        // GQA (llama: 4 heads over 2 kv heads) and q/k/v bias (qwen2) through the span kernels and through torch.
        using var m = LoadFused(family == "llama" ? TestModels.Llama : TestModels.Qwen2);
        using var noGrad = no_grad();
        using var rowCache = new KvCache(m.Config, slots: 2, maxTokens: 32);
        using var torchCache = new KvCache(m.Config, slots: 2, maxTokens: 32);
        foreach (var cache in new[] { rowCache, torchCache })
            m.Model.Forward(new LlamaInputs { InputIds = Ids(Tokens[..5]), Cache = new CacheWrite { Cache = cache, FirstSlot = 1, Starts = [0] } });
        for (int t = 5; t < Tokens.Length; t++)
        {
            var row = m.Model.Forward(new LlamaInputs { Backend = LlamaBackend.RowKernels, InputIds = Ids(Tokens[t]), Cache = new CacheWrite { Cache = rowCache, FirstSlot = 1, Starts = [t] } });
            var reference = m.Model.Forward(new LlamaInputs { Backend = LlamaBackend.Torch, InputIds = Ids(Tokens[t]), Cache = new CacheWrite { Cache = torchCache, FirstSlot = 1, Starts = [t] } });
            Assert.Equal(reference.Logits!.shape, row.Logits!.shape);
            var diff = (row.Logits - reference.Logits).abs().max().item<float>();
            Assert.True(diff < 1e-4f, $"position {t}: max |logit diff| {diff}");
        }
        for (int layer = 0; layer < m.Config.NumHiddenLayers; layer++)
        {
            Assert.True((rowCache.Keys[layer] - torchCache.Keys[layer]).abs().max().item<float>() < 1e-5f);
            Assert.True((rowCache.Values[layer] - torchCache.Values[layer]).abs().max().item<float>() < 1e-5f);
        }
    }

    [Fact]
    public void Forward_RowDecodeFromInputsEmbeds_EqualsInputIds()
    {
        using var m = LoadFused(TestModels.Llama);
        using var noGrad = no_grad();
        using var cache = new KvCache(m.Config, slots: 1, maxTokens: 32);
        m.Model.Forward(new LlamaInputs { InputIds = Ids(Tokens[..4]), Cache = new CacheWrite { Cache = cache, FirstSlot = 0, Starts = [0] } });
        var embeds = m.Model.model.embed_tokens.forward(Ids(Tokens[4])).contiguous();
        var fromEmbeds = m.Model.Forward(new LlamaInputs { Backend = LlamaBackend.RowKernels, InputsEmbeds = embeds, Cache = new CacheWrite { Cache = cache, FirstSlot = 0, Starts = [4] } });
        var fromIds = m.Model.Forward(new LlamaInputs { Backend = LlamaBackend.RowKernels, InputIds = Ids(Tokens[4]), Cache = new CacheWrite { Cache = cache, FirstSlot = 0, Starts = [4] } });
        Assert.Equal(0f, (fromEmbeds.Logits! - fromIds.Logits!).abs().max().item<float>());
    }

    [Fact]
    public void Forward_RowDecodeTokenOutsideVocabulary_Throws()
    {
        using var m = LoadFused(TestModels.Llama);
        using var noGrad = no_grad();
        using var cache = new KvCache(m.Config, slots: 1, maxTokens: 8);
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            m.Model.Forward(new LlamaInputs { Backend = LlamaBackend.RowKernels, InputIds = Ids(m.Config.VocabSize), Cache = new CacheWrite { Cache = cache, FirstSlot = 0, Starts = [0] } }));
    }

    [Fact]
    public void Forward_BatchedDecodeWithDifferentLengths_MatchesPerSequence()
    {
        using var m = ModelLoader.Load(TestModels.Llama);
        m.Model.FuseForInference();
        using var noGrad = no_grad();
        long[] a = Tokens[..7], b = Tokens[3..6];
        using var cache = new KvCache(m.Config, slots: 2, maxTokens: 32);
        m.Model.Forward(new LlamaInputs { InputIds = Ids(a), Cache = new CacheWrite { Cache = cache, FirstSlot = 0, Starts = [0] } });
        m.Model.Forward(new LlamaInputs { InputIds = Ids(b), Cache = new CacheWrite { Cache = cache, FirstSlot = 1, Starts = [0] } });
        var batched = m.Model.Forward(new LlamaInputs
        {
            InputIds = tensor(new long[] { 11, 22 }).view(2, 1),
            Cache = new CacheWrite { Cache = cache, FirstSlot = 0, Starts = [a.Length, b.Length] },
        });
        var refA = m.Model.forward(Ids([.. a, 11]))[0, -1];
        var refB = m.Model.forward(Ids([.. b, 22]))[0, -1];
        Assert.True((batched.Logits![0, 0] - refA).abs().max().item<float>() < 1e-4f);
        Assert.True((batched.Logits![1, 0] - refB).abs().max().item<float>() < 1e-4f);
    }

    [Fact]
    public void FuseForInference_SameLogitsAndStateDictRoundTrip()
    {
        using var m = ModelLoader.Load(TestModels.Qwen2);
        using var noGrad = no_grad();
        var before = m.Model.forward(Ids(Tokens));
        m.Model.FuseForInference();
        var after = m.Model.forward(Ids(Tokens));
        Assert.True((before - after).abs().max().item<float>() < 1e-5f);
        // The HF weight names still hold the HF tensors (views into the fused buffer).
        var q = m.Model.model.layers[0].self_attn.q_proj.weight!;
        Assert.Equal(new long[] { 64, 64 }, q.shape);
        var path = Path.Combine(TestModels.Root, $"fused-{Guid.NewGuid():N}.safetensors");
        TorchSharp.PyBridge.PyBridgeModuleExtensions.save_safetensors(m.Model, path);
        using var reloaded = new LlamaForCausalLM(m.Config);
        TorchSharp.PyBridge.PyBridgeModuleExtensions.load_safetensors(reloaded, path);
        Assert.Equal(0f, (reloaded.forward(Ids(Tokens)) - before).abs().max().item<float>());
    }

    [Fact]
    public void Forward_InputsEmbeds_EqualsInputIds()
    {
        using var m = ModelLoader.Load(TestModels.Llama);
        using var noGrad = no_grad();
        var ids = Ids(Tokens);
        var fromIds = m.Model.forward(ids);
        var fromEmbeds = m.Model.Forward(new LlamaInputs { InputsEmbeds = m.Model.model.embed_tokens.forward(ids) }).Logits!;
        Assert.Equal(0f, (fromIds - fromEmbeds).abs().max().item<float>());
    }

    [Fact]
    public void Forward_HiddenStatePositionsAndLogitPositions_SelectRows()
    {
        using var m = ModelLoader.Load(TestModels.Llama);
        using var noGrad = no_grad();
        var ids = Ids(Tokens);
        var all = m.Model.Forward(new LlamaInputs { InputIds = ids, HiddenStatePositions = arange(Tokens.Length).view(1, -1) });
        var some = m.Model.Forward(new LlamaInputs { InputIds = ids, HiddenStatePositions = tensor(new long[] { 2, 7 }).view(1, 2), LogitPositions = tensor(new long[] { 7 }).view(1, 1) });
        Assert.True((some.HiddenStates![0, 1] - all.HiddenStates![0, 7]).abs().max().item<float>() < 1e-5f);
        Assert.True((some.Logits![0, 0] - all.Logits![0, 7]).abs().max().item<float>() < 1e-4f);
        // Hidden states are taken BEFORE the final norm (GILL uses hidden_states[-1]): norm(h) @ E^T gives the logits.
        var normed = m.Model.model.norm.forward(all.HiddenStates![0, 7]);
        var logits = nn.functional.linear(normed, m.Model.LmHeadWeight);
        Assert.True((logits - all.Logits![0, 7]).abs().max().item<float>() < 1e-4f);
    }

    [Fact]
    public void Forward_ExplicitPositionsAndMask_IsolateSetMembers()
    {
        // Set-based prompting: two options share positions and cannot see each other, so swapping them
        // leaves the query token's logits unchanged.
        using var m = ModelLoader.Load(TestModels.Llama);
        using var noGrad = no_grad();
        long p = 3, x = 50, y = 60, q = 70;
        Tensor Run(long first, long second)
        {
            var ids = tensor(new long[] { p, first, second, q }).view(1, 4);
            var pos = tensor(new long[] { 0, 1, 1, 2 }).view(1, 4);
            var mask = tensor(new[] { true, false, false, false, true, true, false, false, true, false, true, false, true, true, true, true }).view(1, 4, 4);
            return m.Model.Forward(new LlamaInputs { InputIds = ids, PositionIds = pos, AttentionMask = mask }).Logits![0, 3];
        }
        Assert.True((Run(x, y) - Run(y, x)).abs().max().item<float>() < 1e-5f);
    }

    [Fact]
    public void Attention_GroupedQuery_MatchesRepeatKvReference()
    {
        using var m = ModelLoader.Load(TestModels.Llama);
        using var noGrad = no_grad();
        var cfg = m.Config;
        var attn = m.Model.model.layers[0].self_attn;
        long t = 6, h = cfg.NumAttentionHeads, kv = cfg.KeyValueHeads, d = cfg.HeadDimension;
        var x = randn([1, t, cfg.HiddenSize], generator: new TorchSharp.torch.Generator(5));
        var (cos, sin) = m.Model.model.RotaryEmbedding.Gather(arange(t).view(1, t), t - 1);
        var causal = ones(t, t, dtype: ScalarType.Bool).tril();
        var mask = zeros(1, t, t).masked_fill(causal.logical_not(), float.NegativeInfinity).unsqueeze(1).repeat(1, 1, h / kv, 1);
        var ours = attn.Forward(x, new AttentionContext { Cos = cos, Sin = sin, Mask = mask, KeyLength = t });

        // Reference: HF eager attention with rotate_half and repeat_kv (modeling_llama.py).
        var inv = tensor(LlamaRotaryEmbedding.ComputeInvFreq(cfg).ToArray());
        var freqs = outer(arange(t, dtype: ScalarType.Float32), inv);
        var emb = cat([freqs, freqs], -1);
        var refCos = emb.cos().view(1, t, 1, d);
        var refSin = emb.sin().view(1, t, 1, d);
        Tensor Rope(Tensor y) => y * refCos + cat([y.narrow(-1, d / 2, d / 2).neg(), y.narrow(-1, 0, d / 2)], -1) * refSin;
        var q = Rope(attn.q_proj.forward(x).view(1, t, h, d)).transpose(1, 2);
        var k = Rope(attn.k_proj.forward(x).view(1, t, kv, d)).transpose(1, 2).repeat_interleave(h / kv, 1);
        var v = attn.v_proj.forward(x).view(1, t, kv, d).transpose(1, 2).repeat_interleave(h / kv, 1);
        var scores = q.matmul(k.transpose(-1, -2)) / Math.Sqrt(d);
        scores = scores.masked_fill(causal.logical_not(), float.NegativeInfinity);
        var reference = attn.o_proj.forward(scores.softmax(-1).matmul(v).transpose(1, 2).reshape(1, t, h * d));
        Assert.True((ours - reference).abs().max().item<float>() < 1e-5f);
    }

    [Fact]
    public void Forward_NoCache_IsDifferentiable()
    {
        using var m = ModelLoader.Load(TestModels.Llama);
        m.Model.train();
        var ids = Ids(Tokens);
        var logits = m.Model.forward(ids);
        var loss = nn.functional.cross_entropy(logits[0].narrow(0, 0, Tokens.Length - 1), ids[0].narrow(0, 1, Tokens.Length - 1));
        loss.backward();
        var grad = m.Model.model.layers[0].self_attn.q_proj.weight!.grad;
        Assert.NotNull(grad);
        Assert.True(grad!.abs().sum().item<float>() > 0);
    }

    [Fact]
    public void RotaryEmbedding_Llama3Scaling_FollowsHfRule()
    {
        // Llama 3.1 8B rope: theta 500000, factor 8, low 1, high 4, original 8192, head_dim 128.
        var cfg = new LlamaConfig
        {
            HiddenSize = 4096, NumAttentionHeads = 32, RopeTheta = 500000,
            RopeScaling = new RopeScaling { RopeType = "llama3", Factor = 8, LowFreqFactor = 1, HighFreqFactor = 4, OriginalMaxPositionEmbeddings = 8192 },
        };
        var inv = LlamaRotaryEmbedding.ComputeInvFreq(cfg);
        var plain = LlamaRotaryEmbedding.ComputeInvFreq(cfg with { RopeScaling = null });
        Assert.Equal(64, inv.Length);
        Assert.Equal(1f, inv[0]);                                        // wavelength 2*pi < 2048: unchanged
        Assert.Equal(plain[63] / 8, inv[63], 1e-12f);                    // wavelength > 8192: divided by factor
        int smooth = Enumerable.Range(0, 64).First(i => 2 * Math.PI / plain[i] >= 2048);
        Assert.True(inv[smooth] < plain[smooth] && inv[smooth] > plain[smooth] / 8);   // interpolated band
    }

    [Fact]
    public void Load_Llama3RopeScalingConfig_RunsAndDiffersFromUnscaled()
    {
        var dir = TestModels.CopyOf(TestModels.Llama);
        var path = Path.Combine(dir, "config.json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!;
        json["rope_scaling"] = System.Text.Json.Nodes.JsonNode.Parse("""{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":64}""");
        File.WriteAllText(path, json.ToJsonString());
        using var scaled = ModelLoader.Load(dir);
        using var plain = ModelLoader.Load(TestModels.Llama);
        Assert.Equal("llama3", scaled.Config.RopeScaling!.Type);
        using var noGrad = no_grad();
        var a = scaled.Model.forward(Ids(Tokens));
        var b = plain.Model.forward(Ids(Tokens));
        Assert.False(a.isnan().any().item<bool>());
        Assert.True((a - b).abs().max().item<float>() > 1e-3f);
    }
}
