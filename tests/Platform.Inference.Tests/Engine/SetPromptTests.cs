using Platform.Contracts.Chat;
using Platform.Inference.Engine;
using Platform.Inference.Loading;
using Platform.Inference.Models.Llama;
using Xunit;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Engine;

public class SetPromptTests
{
    private static readonly int[] Prefix = [5, 300, 45, 77];
    private static readonly int[][] AllMembers = [[120, 9, 33], [410], [61, 62, 63, 64, 65], [200, 17]];
    private static readonly int[] Suffix = [88, 99];
    private const int Steps = 4;

    private static EngineOptions Options(int chunk) => new() { MaxConcurrentSequences = 2, MaxContextTokens = 128, PrefillChunkTokens = chunk };

    private static IEnumerable<int[][]> Permutations(int[][] items)
    {
        if (items.Length <= 1) { yield return items; yield break; }
        for (int i = 0; i < items.Length; i++)
            foreach (var rest in Permutations(items.Where((_, j) => j != i).ToArray()))
                yield return [items[i], .. rest];
    }

    private static async Task<(List<int> Tokens, List<float[]> Logits)> Run(TextEngine engine, int[][] members, bool suffix)
    {
        var pieces = new List<PromptPiece> { PromptPiece.Run(Prefix), PromptPiece.Set(members) };
        if (suffix) pieces.Add(PromptPiece.Run(Suffix));
        var tokens = new List<int>();
        var logits = new List<float[]>();
        await foreach (var u in engine.GenerateAsync(new GenerationRequest
        {
            PromptPieces = pieces, MaxNewTokens = Steps, Sampling = SamplingOptions.Greedy, IgnoreEos = true, ReturnLogits = true,
        }, CancellationToken.None))
        {
            tokens.AddRange(u.TokenIds);
            if (u.Logits is { } l) logits.Add(l);
        }
        return (tokens, logits);
    }

    /// <summary>
    /// The reference: one full forward without a cache over the prompt in the CLIENT's order plus the generated tokens,
    /// with an explicit mask and positions written here from the paper's definition.
    /// </summary>
    private static float[] Reference(LoadedModel model, int[][] members, bool suffix, IReadOnlyList<int> generated)
    {
        var ids = new List<long>(); var pos = new List<long>(); var member = new List<int>();
        foreach (var t in Prefix) { ids.Add(t); pos.Add(pos.Count); member.Add(-1); }
        long start = Prefix.Length;
        var ends = new List<int>();
        for (int m = 0; m < members.Length; m++)
        {
            for (int i = 0; i < members[m].Length; i++) { ids.Add(members[m][i]); pos.Add(start + i); member.Add(m); }
            ends.Add(ids.Count - 1);
        }
        long next = start + members.Max(m => m.Length);
        if (suffix) foreach (var t in Suffix) { ids.Add(t); pos.Add(next++); member.Add(-1); }
        foreach (var t in generated) { ids.Add(t); pos.Add(next++); member.Add(-1); }
        int n = ids.Count;
        var allowed = new bool[n * n];
        for (int q = 0; q < n; q++)
            for (int k = 0; k <= q; k++)
                allowed[q * n + k] = !(member[q] >= 0 && member[k] >= 0 && member[q] != member[k]);
        using var scope = NewDisposeScope();
        var logits = model.Model.Forward(new LlamaInputs
        {
            InputIds = tensor(ids.ToArray()).view(1, n),
            PositionIds = tensor(pos.ToArray()).view(1, n),
            AttentionMask = tensor(allowed).view(1, n, n),
        }).Logits!;
        // Nothing after the set yet: the first token comes from the mean of the members' last-token logits.
        var row = !suffix && generated.Count == 0
            ? stack(ends.Select(e => logits[0, e]).ToArray(), 0).mean([0])
            : logits[0, n - 1];
        return row.data<float>().ToArray();
    }

    public static TheoryData<int, bool, int> Cases()
    {
        var data = new TheoryData<int, bool, int>();
        foreach (var count in new[] { 2, 3, 4 })
            foreach (var suffix in new[] { true, false })
                foreach (var chunk in new[] { 512, 3 })
                    data.Add(count, suffix, chunk);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task GenerateAsync_EveryPermutationOfMembers_BitwiseIdenticalAndMatchesMaskedReference(int count, bool suffix, int chunk)
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options(chunk));
        using var reference = ModelLoader.Load(TestModels.Llama);
        using var noGrad = no_grad();
        var members = AllMembers.Take(count).ToArray();
        (List<int> Tokens, List<float[]> Logits)? first = null;
        foreach (var perm in Permutations(members))
        {
            var run = await Run(engine, perm, suffix);
            Assert.Equal(Steps, run.Tokens.Count);
            Assert.Equal(Steps, run.Logits.Count);
            if (first is { } f)
            {
                Assert.Equal(f.Tokens, run.Tokens);
                for (int s = 0; s < Steps; s++)
                    Assert.True(f.Logits[s].AsSpan().SequenceEqual(run.Logits[s]), $"step {s} logits differ in some bit for order {string.Join("|", perm.Select(m => string.Join(",", m)))}");
            }
            else first = run;
            for (int s = 0; s < Steps; s++)
            {
                var expected = Reference(reference, perm, suffix, run.Tokens.Take(s).ToList());
                var actual = run.Logits[s];
                float worst = expected.Zip(actual, (a, b) => MathF.Abs(a - b)).Max();
                Assert.True(worst < 1e-4f, $"step {s}: max |engine - reference| = {worst}");
            }
        }
    }

    [Fact]
    public async Task GenerateAsync_WithoutSet_ReferenceMaskIsPlainCausal()
    {
        // The reference above with one member is the plain causal prompt: the engine's ordinary path agrees with it.
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options(512));
        using var reference = ModelLoader.Load(TestModels.Llama);
        using var noGrad = no_grad();
        int[][] one = [AllMembers[2]];
        var plain = new List<int>();
        var logits = new List<float[]>();
        await foreach (var u in engine.GenerateAsync(new GenerationRequest
        {
            PromptTokens = [.. Prefix, .. AllMembers[2], .. Suffix], MaxNewTokens = Steps, Sampling = SamplingOptions.Greedy, IgnoreEos = true, ReturnLogits = true,
        }, CancellationToken.None))
        {
            plain.AddRange(u.TokenIds);
            if (u.Logits is { } l) logits.Add(l);
        }
        var set = await Run(engine, one, suffix: true);
        Assert.Equal(plain, set.Tokens);
        for (int s = 0; s < Steps; s++)
        {
            var expected = Reference(reference, one, true, plain.Take(s).ToList());
            Assert.True(expected.Zip(logits[s], (a, b) => MathF.Abs(a - b)).Max() < 1e-4f);
        }
    }

    [Fact]
    public async Task GenerateAsync_MarkedPromptText_SameAsTokenPieces()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options(512));
        var tok = engine.Model.Tokenizer;
        var a = await Collect(engine, new GenerationRequest
        {
            Prompt = "Which is right? " + SetMarkers.Wrap(["red circle", "a big blue square"]) + " Answer:",
            UseSetMarkers = true, MaxNewTokens = 6, Sampling = SamplingOptions.Greedy, IgnoreEos = true,
        });
        var b = await Collect(engine, new GenerationRequest
        {
            Prompt = "Which is right? " + SetMarkers.Wrap(["a big blue square", "red circle"]) + " Answer:",
            UseSetMarkers = true, MaxNewTokens = 6, Sampling = SamplingOptions.Greedy, IgnoreEos = true,
        });
        var pieces = await Collect(engine, new GenerationRequest
        {
            PromptPieces = [PromptPiece.Run([.. tok.Encode("Which is right? ", addBos: tok.AddBos)]),
                PromptPiece.Set([.. tok.Encode("red circle")], [.. tok.Encode("a big blue square")]),
                PromptPiece.Run([.. tok.Encode(" Answer:")])],
            MaxNewTokens = 6, Sampling = SamplingOptions.Greedy, IgnoreEos = true,
        });
        Assert.Equal(a, b);
        Assert.Equal(a, pieces);
        Assert.Equal(6, a.Count);
    }

    [Theory]
    [InlineData("a <|start_2d|>b<|split_2d|>c")]
    [InlineData("a <|split_2d|> b")]
    [InlineData("a <|start_2d|>b<|split_2d|><|end_2d|>")]
    [InlineData("<|start_2d|>a<|start_2d|>b<|end_2d|><|end_2d|>")]
    public async Task GenerateAsync_MalformedMarkers_ThrowArgumentException(string prompt)
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options(512));
        Assert.Throws<ArgumentException>(() => engine.CountPromptTokens(new GenerationRequest { Prompt = prompt, UseSetMarkers = true }));
    }

    private static async Task<List<int>> Collect(TextEngine engine, GenerationRequest request)
    {
        var ids = new List<int>();
        await foreach (var u in engine.GenerateAsync(request, CancellationToken.None)) ids.AddRange(u.TokenIds);
        return ids;
    }
}
