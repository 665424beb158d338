using Platform.Inference.Gguf;
using Platform.Inference.Loading;
using Platform.Inference.Models;
using Platform.Inference.Tokenization;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Gguf;

/// <summary>Our TorchSharp forward against llama.cpp on the same weights, exported by <see cref="HfGgufExporter"/>.</summary>
public sealed class LlamaCppParityTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gguf-parity-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> Architectures => ["llama-gqa", "qwen2-bias", "qwen3-qknorm"];

    [Theory]
    [MemberData(nameof(Architectures))]
    public void ExportedGguf_SameTokens_LogitsMatchLlamaCpp(string kind)
    {
        var config = GgufTestModels.ForKind(kind);
        string folder = TinyModelFactory.Create(Path.Combine(_dir, kind), config, seed: 7), gguf = Path.Combine(_dir, kind + ".gguf");
        using var loaded = ModelLoader.Load(folder);
        var result = HfGgufExporter.ExportFolder(folder, gguf);
        Assert.Equal("gpt2", result.VocabularyModel);

        // A text prompt (merged tokens and byte tokens) followed by arbitrary ids up to the top of the vocabulary.
        var tokens = loaded.Tokenizer.Encode("Hello world! The café, 12 apples.").Concat([1, 2, 300, 511, 0]).ToArray();
        var model = loaded.Model;
        double rel = LlamaCppOracle.MaxRelativeDifference(OurLogits(model, tokens), LlamaCppOracle.Logits(gguf, tokens));
        output.WriteLine($"{kind}: max relative logit difference over {tokens.Length} positions = {rel:E2}");
        Assert.True(rel < 1e-4, $"{kind}: max relative logit difference {rel:E2}");
    }

    [Fact]
    public void ExportFolder_NoTokenizerFiles_NoneVocabularyRunsInLlamaCpp()
    {
        // Without tokenizer.json or tokenizer.model the file falls back to "none" (token ids only).
        string folder = TinyModelFactory.Create(Path.Combine(_dir, "none"), GgufTestModels.LlamaGqa(), TokenizerKind.SentencePiece);
        string gguf = Path.Combine(_dir, "none.gguf");
        using var loaded = ModelLoader.Load(folder);
        var model = loaded.Model;
        File.Delete(Path.Combine(folder, "tokenizer.model"));

        var result = HfGgufExporter.ExportFolder(folder, gguf);

        Assert.Equal("none", result.VocabularyModel);
        Assert.Contains("tokenizer.json", result.VocabularyNote);
        Assert.Equal("none", GgufReader.Open(gguf).Metadata["tokenizer.ggml.model"].AsString());
        int[] tokens = [3, 1, 4, 1, 5, 9, 2, 6];
        double rel = LlamaCppOracle.MaxRelativeDifference(OurLogits(model, tokens), LlamaCppOracle.Logits(gguf, tokens));
        Assert.True(rel < 1e-4, $"max relative logit difference {rel:E2}");
    }

    [Theory]
    [InlineData("Hello world! The quick brown fox.")]
    [InlineData(" the\nthe  children play 2024 Größe 日本語 😀")]
    public void ExportedVocabulary_Text_LlamaCppTokenizesLikeOurTokenizer(string text)
    {
        string folder = TinyModelFactory.Create(Path.Combine(_dir, "tok"), GgufTestModels.LlamaGqa()), gguf = Path.Combine(_dir, "tok.gguf");
        HfGgufExporter.ExportFolder(folder, gguf);

        var ours = TokenizerLoader.Load(folder).Encode(text);
        var theirs = LlamaCppOracle.Tokenize(gguf, text);

        Assert.Contains(ours, id => id >= 3 + 256);   // merged tokens were used, not only byte tokens
        Assert.Equal(ours, theirs);
    }

    private static float[][] OurLogits(Platform.Inference.Models.Llama.LlamaForCausalLM model, int[] tokens)
    {
        using var noGrad = no_grad();
        using var ids = tensor(tokens.Select(t => (long)t).ToArray()).unsqueeze(0);
        using var logits = model.forward(ids);
        return Enumerable.Range(0, tokens.Length).Select(i => logits[0, i].data<float>().ToArray()).ToArray();
    }
}
