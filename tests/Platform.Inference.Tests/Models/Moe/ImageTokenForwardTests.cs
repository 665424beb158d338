using Platform.Inference.Loading;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;
using Platform.Inference.Models.Moe;
using Xunit;
using static Platform.Inference.Tests.Models.Moe.ImageTokenModels;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Models.Moe;

/// <summary>The forward of a loaded image-token model on both backends: text untouched, image rows as the training path computes them.</summary>
[Collection(TorchGlobalRngCollection.Name)]
public sealed class ImageTokenForwardTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("moe-image-forward-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly long[] Text = [3, 300, 45, 77, 120, 9, 260, 301, 88, 15, 40, 41];

    /// <summary>Prefill of <paramref name="prompt"/> (torch) then decode steps of <paramref name="next"/> on the backend, 3 rows
    /// at different positions; every forward's logits, concatenated.</summary>
    private static List<Tensor> Run(LlamaForCausalLM model, long[][] prompts, long[][] next, LlamaBackend backend)
    {
        var config = model.Config;
        using var cache = new KvCache(config, slots: prompts.Length, maxTokens: 64);
        var logits = new List<Tensor>();
        for (int s = 0; s < prompts.Length; s++)
            logits.Add(model.Forward(new LlamaInputs { InputIds = tensor(prompts[s]).unsqueeze(0), Cache = new CacheWrite { Cache = cache, FirstSlot = s, Starts = [0] } }).Logits!);
        for (int step = 0; step < next[0].Length; step++)
        {
            var ids = tensor(next.Select(n => n[step]).ToArray()).view(next.Length, 1);
            var starts = prompts.Select(p => (long)(p.Length + step)).ToArray();
            logits.Add(model.Forward(new LlamaInputs { Backend = backend, InputIds = ids, Cache = new CacheWrite { Cache = cache, FirstSlot = 0, Starts = starts } }).Logits!);
        }
        return logits;
    }

    [Theory]
    [InlineData("mixtral", LlamaBackend.Torch)]
    [InlineData("mixtral", LlamaBackend.RowKernels)]
    [InlineData("olmoe", LlamaBackend.Torch)]
    [InlineData("olmoe", LlamaBackend.RowKernels)]
    [InlineData("qwen2_moe", LlamaBackend.Torch)]
    [InlineData("qwen2_moe", LlamaBackend.RowKernels)]
    public void TextOnly_BaseLogitsBitwiseIdenticalWithAndWithoutAdapter(string family, LlamaBackend backend)
    {
        var (baseFolder, imageFolder) = Create(_dir, family);
        using var plain = ModelLoader.Load(baseFolder);
        using var image = ModelLoader.Load(imageFolder);
        Assert.Null(plain.ImageAdapter);
        Assert.NotNull(image.ImageAdapter);
        plain.Model.FuseForInference();
        image.Model.FuseForInference();
        using var noGrad = no_grad();
        long[][] prompts = [Text[..3], Text[..7], Text[..5]];
        long[][] next = [Text[3..7], Text[7..11], Text[5..9]];
        var a = Run(plain.Model, prompts, next, backend);
        var b = Run(image.Model, prompts, next, backend);
        for (int i = 0; i < a.Count; i++)
        {
            Assert.Equal(BaseVocabulary, a[i].shape[^1]);
            Assert.Equal(image.ImageVocabulary!.Size, b[i].shape[^1]);
            Assert.True(Bits(a[i]).SequenceEqual(Bits(b[i].narrow(-1, 0, BaseVocabulary))), $"forward {i}: text logits differ with the adapter loaded");
        }
    }

    [Theory]
    [InlineData("mixtral", LlamaBackend.Torch)]
    [InlineData("mixtral", LlamaBackend.RowKernels)]
    [InlineData("olmoe", LlamaBackend.RowKernels)]
    [InlineData("qwen2_moe", LlamaBackend.Torch)]
    [InlineData("qwen2_moe", LlamaBackend.RowKernels)]
    public void ImageTokens_EnginePathMatchesTrainingForward(string family, LlamaBackend backend)
    {
        var (_, imageFolder) = Create(_dir, family);
        using var m = ModelLoader.Load(imageFolder);
        var v = m.ImageVocabulary!;
        // Three rows: text then a picture (begin, 4 codes, end) then text, cut at different places so a decode batch
        // mixes image and text rows.
        long[] Sequence(int shift) => [.. Text[..(3 + shift)], v.BeginOfImage, v.CodeToken(1 + shift), v.CodeToken(7), v.CodeToken(15 - shift), v.CodeToken(2), v.EndOfImage, 44, 45];
        var full = new[] { Sequence(0), Sequence(1), Sequence(2) };
        int[] cut = [4, 6, 9];   // prefill this many tokens, decode the next 4
        using var noGrad = no_grad();
        var reference = full.Select(s => m.ImageAdapter!.Forward(tensor(s).unsqueeze(0))).ToArray();   // the training path
        m.Model.FuseForInference();
        var logits = Run(m.Model, full.Select((s, i) => s[..cut[i]]).ToArray(), full.Select((s, i) => s[cut[i]..(cut[i] + 4)]).ToArray(), backend);
        for (int row = 0; row < 3; row++)
        {
            float prefill = RelativeDifference(logits[row][0], reference[row][0].narrow(0, 0, cut[row]));
            Assert.True(prefill < 1e-4f, $"row {row} prefill: relative difference {prefill}");
            for (int step = 0; step < 4; step++)
            {
                float decode = RelativeDifference(logits[3 + step][row, 0], reference[row][0, cut[row] + step]);
                Assert.True(decode < 1e-4f, $"row {row} decode step {step} ({backend}): relative difference {decode}");
            }
        }
        // The adapter matters at image rows: without it the same rows differ.
        m.ImageAdapter!.Attach(false);
        var detached = m.Model.Forward(new LlamaInputs { InputIds = tensor(full[0]).unsqueeze(0) }).Logits!;
        m.ImageAdapter.Attach(true);
        Assert.True(RelativeDifference(detached[0, 6], reference[0][0, 6]) > 1e-3f, "the LoRA changed nothing at an image row");
    }

    [Fact]
    public void Routing_CountsPromptRowsByModalityAndSkipsPadding()
    {
        var (_, imageFolder) = Create(_dir, "mixtral");
        using var m = ModelLoader.Load(imageFolder);
        var v = m.ImageVocabulary!;
        var routing = m.Routing!;
        using var noGrad = no_grad();
        using var cache = new KvCache(m.Config, slots: 2, maxTokens: 32);
        // Two rows of a batched prefill, the second padded from 3 to 6 tokens: padding is not counted.
        var ids = tensor(new long[] { 5, 6, v.BeginOfImage, v.CodeToken(0), v.CodeToken(1), v.CodeToken(2), 7, 8, 9, 9, 9, 9 }).view(2, 6);
        m.Model.Forward(new LlamaInputs { InputIds = ids, Cache = new CacheWrite { Cache = cache, FirstSlot = 0, Starts = [0, 0], Lengths = [6, 3] } });
        for (int l = 0; l < routing.Layers; l++)
        {
            Assert.Equal(5, routing.Tokens(l, Modality.Text));
            Assert.Equal(4, routing.Tokens(l, Modality.Image));
        }
        // A dense model has no routing.
        using var dense = ModelLoader.Load(TestModels.Llama);
        Assert.Null(dense.Routing);
    }
}
