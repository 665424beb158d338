using Platform.Inference.Loading;
using Platform.Inference.Models;
using Platform.Inference.Models.Mixtral;
using Platform.Inference.Models.Moe;
using Platform.Multimodal.Models.Vq;
using Platform.Multimodal.Onnx;
using static TorchSharp.torch;

namespace Gateway.Tests.MoeAdapter;

/// <summary>
/// Tiny image-token model folders for the MoE worker's tests: a random Mixtral base (TinyModelFactory), a random image
/// adapter saved with <see cref="ImageTokenAdapter.Save"/> and a random VQ decoder exported with
/// <see cref="VqDecoderOnnxExporter"/>, so no test depends on the shipped demo-moe weights.
/// </summary>
public static class ImageTokenFolder
{
    public const int BaseVocabulary = 512;
    public const int Codebook = 16;
    public const int Grid = 2;

    public static MixtralConfig Config() => new()
    {
        VocabSize = BaseVocabulary, HiddenSize = 64, IntermediateSize = 96, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2,
        MaxPositionEmbeddings = 1024, RmsNormEps = 1e-5, RopeTheta = 10000, NumLocalExperts = 4, NumExpertsPerTok = 2, TieWordEmbeddings = false,
    };

    /// <summary>The base only: an MoE model without an image adapter (served text-only).</summary>
    public static string CreateBase(string folder, int seed = 9) => TinyModelFactory.Create(folder, Config(), seed: seed);

    /// <summary>
    /// A base with an image adapter and a VQ decoder. The begin-of-image row of the adapter's output head is scaled by
    /// <paramref name="beginScale"/>: a large value makes begin-of-image win wherever its logit is positive (a random
    /// model then draws within a few tokens, about every other position), 0 leaves it at logit 0, below the best text
    /// token at every greedy step (the model never draws).
    /// </summary>
    public static string Create(string folder, float beginScale, int seed = 9)
    {
        var baseFolder = CreateBase(folder + "-base", seed);
        Directory.CreateDirectory(folder);
        foreach (var f in Directory.GetFiles(baseFolder)) File.Copy(f, Path.Combine(folder, Path.GetFileName(f)), overwrite: true);
        var config = new ImageTokenAdapterConfig { BaseVocabSize = BaseVocabulary, CodebookSize = Codebook, GridSize = Grid, LoraRank = 4, LoraAlpha = 8 };
        using (var m = ModelLoader.Load(baseFolder))
        {
            using var adapter = new ImageTokenAdapter(m.Model, config.Vocabulary.NewTokens, config.LoraRank, config.LoraAlpha);
            // Every value from the test's own generator: the global torch generator is shared by test classes that run
            // at the same time, so values drawn from it would differ from run to run.
            using var g = new Generator((ulong)seed);
            using (no_grad())
            {
                var h = Config().HiddenSize;
                foreach (var (name, p) in adapter.named_parameters())
                {
                    var scale = name switch
                    {
                        "new_embeddings" => 0.1,
                        "new_lm_head" => 1 / Math.Sqrt(h),
                        _ when name.EndsWith("_B", StringComparison.Ordinal) => 0.2,
                        _ => 1 / Math.Sqrt(p.shape[^1]),
                    };
                    p.copy_(randn(p.shape, generator: g) * scale);
                }
                adapter.new_lm_head[0].mul_(beginScale);
            }
            adapter.Save(folder, config);
        }
        using var vq = RandomVq(seed);
        VqDecoderOnnxExporter.Export(vq, Path.Combine(folder, Platform.Multimodal.MoeAdapter.Training.MoeModelFiles.VqDecoderOnnx));
        File.WriteAllText(Path.Combine(folder, Platform.Multimodal.MoeAdapter.Training.MoeModelFiles.VqConfig), vq.Config.ToJson());
        return folder;
    }

    /// <summary>A random VQ tokenizer of the adapter's grid and codebook, from its own generator.</summary>
    public static VqTokenizer RandomVq(int seed)
    {
        var vq = new VqTokenizer(new VqTokenizerConfig { GridSize = Grid, CodebookSize = Codebook, CodeDim = 8, HiddenChannels = 8 });
        using var g = new Generator((ulong)seed);
        using (no_grad())
        {
            foreach (var p in vq.parameters()) p.copy_(randn(p.shape, generator: g) * (p.dim() > 1 ? 0.3 : 0.1));
            vq.codebook.embedding.copy_(randn(vq.codebook.embedding.shape, generator: g));
        }
        vq.eval();
        return vq;
    }
}
