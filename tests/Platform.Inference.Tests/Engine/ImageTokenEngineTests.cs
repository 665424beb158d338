using System.Text;
using Platform.Inference.Engine;
using Platform.Inference.Loading;
using Platform.Inference.Models.Llama;
using Platform.Inference.Models.Moe;
using Platform.Inference.Tests.Models.Moe;
using Xunit;

namespace Platform.Inference.Tests.Engine;

/// <summary>The scheduler with an image-token MoE model: pictures, their constraint, text and logprobs around them, routing.</summary>
[Collection(TorchGlobalRngCollection.Name)]
public sealed class ImageTokenEngineTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("moe-image-engine-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static EngineOptions Options(int threads = 1) => new() { MaxConcurrentSequences = 4, MaxWaitingRequests = 16, MaxContextTokens = 256, Threads = threads };

    private static async Task<List<GenerationUpdate>> Collect(ITextEngine engine, GenerationRequest request)
    {
        var updates = new List<GenerationUpdate>();
        await foreach (var u in engine.GenerateAsync(request, CancellationToken.None)) updates.Add(u);
        return updates;
    }

    private static readonly int[] Prompt = [3, 300, 45, 77, 120];

    /// <summary>Walks the completion: every picture is begin, CodesPerImage codes, end; no code or end outside one.
    /// Returns the pictures' codes.</summary>
    private static List<int[]> CheckStructure(ImageVocabulary v, IReadOnlyList<int> tokens, bool mayEndInside)
    {
        var pictures = new List<int[]>();
        List<int>? codes = null;
        foreach (var t in tokens)
        {
            if (codes is null)
            {
                Assert.False(v.IsCode(t) || t == v.EndOfImage, $"token {t} outside a picture");
                if (t == v.BeginOfImage) codes = [];
            }
            else if (codes.Count < v.CodesPerImage)
            {
                Assert.True(v.IsCode(t), $"token {t} inside a picture after {codes.Count} codes");
                codes.Add(v.CodeOf(t));
            }
            else
            {
                Assert.Equal(v.EndOfImage, t);
                pictures.Add([.. codes]);
                codes = null;
            }
        }
        if (!mayEndInside) Assert.Null(codes);
        return pictures;
    }

    [Fact]
    public async Task Generate_SampledPictures_WellFormedAndReportedOnTheEndToken()
    {
        var (_, folder) = ImageTokenModels.Create(_dir, codebook: 16, grid: 2);
        await using var engine = TextEngine.Load("moe-image", folder, Options());
        Assert.Equal(LlamaBackend.RowKernels, engine.DecodeBackend);
        var v = engine.Model.ImageVocabulary!;
        int pictures = 0;
        for (ulong seed = 1; seed <= 4; seed++)
        {
            // A bias toward begin-of-image so a random model draws often; inside a picture the constraint decides.
            var updates = await Collect(engine, new GenerationRequest
            {
                PromptTokens = Prompt, MaxNewTokens = 40, IgnoreEos = true, Logprobs = 2,
                Sampling = new SamplingOptions { Temperature = 1f, Seed = seed, LogitBias = new Dictionary<int, float> { [v.BeginOfImage] = 6f } },
            });
            var tokens = updates.SelectMany(u => u.TokenIds).ToList();
            Assert.Equal(40, tokens.Count);
            Assert.Equal(40, updates[^1].CompletionTokens);
            var expected = CheckStructure(v, tokens, mayEndInside: true);
            var reported = updates.Where(u => u.Picture is not null).Select(u => u.Picture!).ToList();
            Assert.Equal(expected.Count, reported.Count);
            for (int i = 0; i < expected.Count; i++)
            {
                Assert.Equal(2, reported[i].GridSize);
                Assert.Equal(expected[i], reported[i].Codes);
                Assert.Equal(v.CodesPerImage, reported[i].Codes.Length);
            }
            Assert.All(updates.Where(u => u.Picture is not null), u => Assert.Equal([v.EndOfImage], u.TokenIds));
            // Image tokens add no text: the streamed text is the decoding of the text runs between pictures (a picture
            // ends the run before it; begin-of-image's update releases what was held back of it).
            var text = string.Concat(updates.Select(u => u.TextDelta));
            var runs = new List<List<int>> { new() };
            foreach (var t in tokens)
                if (t == v.BeginOfImage) runs.Add([]);
                else if (t < v.BaseVocabulary) runs[^1].Add(t);
            Assert.Equal(string.Concat(runs.Select(r => engine.Model.Tokenizer.Decode(r.ToArray()))), text);
            Assert.DoesNotContain("<|image", text);
            Assert.All(updates.Where(u => u.TokenIds.Any(t => v.IsCode(t) || t == v.EndOfImage)), u => Assert.Equal("", u.TextDelta));
            // Logprobs: one per token, image tokens included, from the constrained distribution (end-of-image forced: 0).
            var logprobs = updates.Where(u => u.Logprobs is not null).SelectMany(u => u.Logprobs!).ToList();
            Assert.Equal(tokens, logprobs.Select(l => l.TokenId));
            foreach (var l in logprobs.Where(l => l.TokenId == v.EndOfImage))
            {
                Assert.Equal(0f, l.Logprob);
                Assert.Equal([v.EndOfImage], l.Top.Select(t => t.TokenId));   // masked tokens are no alternatives
                Assert.Equal(ImageVocabulary.EndToken, Encoding.UTF8.GetString(l.Bytes));
            }
            foreach (var l in logprobs.Where(l => v.IsCode(l.TokenId)))
            {
                Assert.Equal($"<|image_code_{v.CodeOf(l.TokenId)}|>", Encoding.UTF8.GetString(l.Bytes));
                Assert.All(l.Top, t => Assert.True(v.IsCode(t.TokenId), "an alternative to a code is a code"));
            }
            pictures += reported.Count;
        }
        Assert.True(pictures >= 4, $"only {pictures} pictures in 4 runs");
    }

    [Fact]
    public async Task Generate_PromptEndsWithBeginOfImage_DrawsOnePictureAndCutInsideGivesNone()
    {
        var (_, folder) = ImageTokenModels.Create(_dir, codebook: 16, grid: 2);
        await using var engine = TextEngine.Load("moe-image", folder, Options());
        var v = engine.Model.ImageVocabulary!;
        int[] prompt = [.. Prompt, v.BeginOfImage];
        var whole = await Collect(engine, new GenerationRequest { PromptTokens = prompt, MaxNewTokens = 5, IgnoreEos = true, Sampling = SamplingOptions.Greedy });
        var tokens = whole.SelectMany(u => u.TokenIds).ToArray();
        Assert.All(tokens[..4], t => Assert.True(v.IsCode(t)));
        Assert.Equal(v.EndOfImage, tokens[4]);
        var picture = Assert.Single(whole, u => u.Picture is not null).Picture!;
        Assert.Equal(tokens[..4].Select(v.CodeOf), picture.Codes);

        // max_tokens inside the picture: length, no picture.
        var cut = await Collect(engine, new GenerationRequest { PromptTokens = prompt, MaxNewTokens = 3, IgnoreEos = true, Sampling = SamplingOptions.Greedy });
        Assert.Equal("length", cut[^1].FinishReason);
        Assert.DoesNotContain(cut, u => u.Picture is not null);
        Assert.Equal(tokens[..3], cut.SelectMany(u => u.TokenIds));

        // A prompt already inside a picture (2 of 4 codes): the generation completes that picture.
        int[] partial = [.. prompt, v.CodeToken(3), v.CodeToken(9)];
        var rest = await Collect(engine, new GenerationRequest { PromptTokens = partial, MaxNewTokens = 3, IgnoreEos = true, Sampling = SamplingOptions.Greedy });
        var restTokens = rest.SelectMany(u => u.TokenIds).ToArray();
        Assert.True(v.IsCode(restTokens[0]) && v.IsCode(restTokens[1]));
        Assert.Equal(v.EndOfImage, restTokens[2]);
        Assert.Equal([3, 9, v.CodeOf(restTokens[0]), v.CodeOf(restTokens[1])], Assert.Single(rest, u => u.Picture is not null).Picture!.Codes);
    }

    [Fact]
    public async Task Generate_TextHeldBackBeforeAPicture_ReleasedByTheBeginOfImageUpdate()
    {
        var (_, folder) = ImageTokenModels.Create(_dir, codebook: 16, grid: 2);
        await using var engine = TextEngine.Load("moe-image", folder, Options());
        var v = engine.Model.ImageVocabulary!;
        var tok = engine.Model.Tokenizer;
        GenerationRequest Request(ulong seed, IReadOnlyList<string> stops) => new()
        {
            PromptTokens = Prompt, MaxNewTokens = 24, IgnoreEos = true, StopStrings = stops,
            Sampling = new SamplingOptions { Temperature = 1f, Seed = seed, LogitBias = new Dictionary<int, float> { [v.BeginOfImage] = 4f } },
        };
        for (ulong seed = 1; seed <= 20; seed++)
        {
            var tokens = (await Collect(engine, Request(seed, []))).SelectMany(u => u.TokenIds).ToArray();
            int begin = Array.IndexOf(tokens, v.BeginOfImage);
            if (begin < 1) continue;
            var before = tok.Decode(tokens[..begin]);
            var last = tok.Decode(tokens[(begin - 1)..begin]);
            if (last.Length == 0 || before.Length == 0) continue;
            // A stop string that starts with the text's last token holds that text back; the picture releases it.
            var updates = await Collect(engine, Request(seed, [last + "\u0007"]));
            Assert.Equal(tokens, updates.SelectMany(u => u.TokenIds));
            int at = updates.FindIndex(u => u.TokenIds.Contains(v.BeginOfImage));
            Assert.Equal(before, string.Concat(updates.Take(at + 1).Select(u => u.TextDelta)));
            Assert.EndsWith(last, updates[at].TextDelta);
            return;
        }
        Assert.Fail("no seed drew a picture after text");
    }

    [Fact]
    public async Task Generate_PicturesBatchedAndPreempted_EachEqualsItsOwnAlone()
    {
        // 8x8 pictures (66 tokens): four sequences of 11 + 72 tokens need 6 blocks of 16 each; 14 blocks make the pool
        // run out, so some are preempted and recomputed (image tokens included) while others decode in batches that mix
        // image and text rows.
        var (_, folder) = ImageTokenModels.Create(_dir, codebook: 16, grid: 8);
        await using var tight = TextEngine.Load("tight", folder, new EngineOptions { MaxConcurrentSequences = 4, MaxContextTokens = 128, KvCacheBlocks = 14, Threads = 1 });
        await using var roomy = TextEngine.Load("roomy", folder, new EngineOptions { MaxConcurrentSequences = 1, MaxContextTokens = 128, PrefixCaching = false, Threads = 1 });
        var v = tight.Model.ImageVocabulary!;
        var requests = Enumerable.Range(0, 4).Select(i => new GenerationRequest
        {
            PromptTokens = [.. Enumerable.Range(0, 10).Select(t => 40 + 37 * i + t), .. i % 2 == 0 ? new[] { v.BeginOfImage } : []],
            MaxNewTokens = 72, IgnoreEos = true,
            Sampling = i < 2 ? SamplingOptions.Greedy with { LogitBias = new Dictionary<int, float> { [v.BeginOfImage] = 3f } }
                : new SamplingOptions { Temperature = 1f, Seed = (ulong)i, LogitBias = new Dictionary<int, float> { [v.BeginOfImage] = 3f } },
        }).ToList();
        var alone = new List<List<GenerationUpdate>>();
        foreach (var r in requests) alone.Add(await Collect(roomy, r));
        var together = await Task.WhenAll(requests.Select(r => Collect(tight, r)));
        Assert.True(tight.Stats.Preemptions >= 1, $"preemptions {tight.Stats.Preemptions}");
        for (int i = 0; i < requests.Count; i++)
        {
            Assert.Equal(alone[i].SelectMany(u => u.TokenIds), together[i].SelectMany(u => u.TokenIds));
            var a = alone[i].Where(u => u.Picture is not null).Select(u => u.Picture!.Codes).ToList();
            var b = together[i].Where(u => u.Picture is not null).Select(u => u.Picture!.Codes).ToList();
            Assert.Equal(a, b);
            CheckStructure(v, [.. requests[i].PromptTokens!.Where(t => t >= v.BaseVocabulary), .. together[i].SelectMany(u => u.TokenIds)], mayEndInside: true);
        }
        Assert.True(alone.Sum(u => u.Count(x => x.Picture is not null)) >= 2, "too few pictures to mean anything");
    }

    [Fact]
    public async Task Generate_MalformedImageTokensInPrompt_Refused()
    {
        var (_, folder) = ImageTokenModels.Create(_dir, codebook: 16, grid: 2);
        await using var engine = TextEngine.Load("moe-image", folder, Options());
        var v = engine.Model.ImageVocabulary!;
        int[][] bad =
        [
            [.. Prompt, v.CodeToken(1)],                                  // a code outside a picture
            [.. Prompt, v.EndOfImage],                                    // end without begin
            [.. Prompt, v.BeginOfImage, v.CodeToken(1), v.EndOfImage],    // too few codes
            [.. Prompt, v.BeginOfImage, v.BeginOfImage],                  // begin inside a picture
            [.. Prompt, v.Size],                                          // past the vocabulary
        ];
        foreach (var p in bad)
            await Assert.ThrowsAsync<ArgumentException>(async () => await Collect(engine, new GenerationRequest { PromptTokens = p, MaxNewTokens = 2 }));
    }

    [Fact]
    public async Task Generate_TextOnlyPrompt_SameTokensAsTheBaseModel()
    {
        var (baseFolder, folder) = ImageTokenModels.Create(_dir);
        await using var plain = TextEngine.Load("base", baseFolder, Options());
        await using var image = TextEngine.Load("image", folder, Options());
        var request = new GenerationRequest { PromptTokens = Prompt, MaxNewTokens = 12, IgnoreEos = true, Sampling = SamplingOptions.Greedy, ReturnLogits = true };
        var a = await Collect(plain, request);
        var b = await Collect(image, request);
        var ta = a.SelectMany(u => u.TokenIds).ToArray();
        var tb = b.SelectMany(u => u.TokenIds).ToArray();
        // Greedy text: begin-of-image may win over every text logit only with the adapter, so compare up to it.
        int n = Array.FindIndex(tb, t => t >= ImageTokenModels.BaseVocabulary) is var k && k >= 0 ? k : tb.Length;
        Assert.Equal(ta[..n], tb[..n]);
        for (int i = 0; i < n; i++)
        {
            var la = a.Where(u => u.Logits is not null).ElementAt(i).Logits!;
            var lb = b.Where(u => u.Logits is not null).ElementAt(i).Logits!;
            Assert.True(la.Select(BitConverter.SingleToInt32Bits).SequenceEqual(lb[..ImageTokenModels.BaseVocabulary].Select(BitConverter.SingleToInt32Bits)), $"step {i}: text logits differ");
        }
    }

    [Fact]
    public async Task Routing_PromptOf5TextAnd66ImageTokens_CountedPerLayerAndDecodeStepsToo()
    {
        var (_, folder) = ImageTokenModels.Create(_dir, codebook: 16, grid: 8);
        await using var engine = TextEngine.Load("moe-image", folder, Options());
        var v = engine.Model.ImageVocabulary!;
        var routing = engine.Model.Routing!;
        var codes = Enumerable.Range(0, 64).Select(i => (long)(i % 16)).ToArray();
        int[] prompt = [.. Prompt, .. v.Picture(codes)];
        Assert.Equal(71, prompt.Length);

        await Collect(engine, new GenerationRequest { PromptTokens = prompt, MaxNewTokens = 1, IgnoreEos = true, Sampling = SamplingOptions.Greedy });
        for (int l = 0; l < routing.Layers; l++)
        {
            Assert.Equal(5, routing.Tokens(l, Modality.Text));
            Assert.Equal(66, routing.Tokens(l, Modality.Image));
            Assert.Equal(5 * 2, Enumerable.Range(0, routing.Experts).Sum(e => routing.Count(l, Modality.Text, e)));
        }

        // Decode steps count too: 4 new tokens, the first 3 fed back (the prompt again comes from the prefix cache,
        // except its last block-partial tokens, which are prefilled and counted).
        long text0 = routing.Tokens(0, Modality.Text), image0 = routing.Tokens(0, Modality.Image);
        var updates = await Collect(engine, new GenerationRequest
        {
            PromptTokens = [.. Prompt, v.BeginOfImage], MaxNewTokens = 4, IgnoreEos = true, Sampling = SamplingOptions.Greedy,
        });
        var generated = updates.SelectMany(u => u.TokenIds).ToArray();
        Assert.All(generated, t => Assert.True(v.IsCode(t)));
        // Prompt (5 text + begin) prefilled, then 3 code tokens fed through decode steps (span kernels).
        Assert.Equal(text0 + 5, routing.Tokens(0, Modality.Text));
        Assert.Equal(image0 + 1 + 3, routing.Tokens(0, Modality.Image));
    }
}
