using Platform.Inference.Loading;
using Platform.Inference.Models;
using Platform.Inference.Models.Moe;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Models.Moe;

/// <summary>
/// Tiny image-token MoE folders: a random base (<see cref="MoeTestModels"/>, untied head) and, in a copy of it, a
/// random image adapter saved with <see cref="ImageTokenAdapter.Save"/> whose LoRA B matrices are non-zero (so the
/// adapter changes what image rows compute).
/// </summary>
public static class ImageTokenModels
{
    public const int BaseVocabulary = 512;

    /// <summary>(base folder, image-token folder) under <paramref name="root"/>.</summary>
    public static (string Base, string WithAdapter) Create(string root, string family = "mixtral", int codebook = 16, int grid = 2, int seed = 9)
    {
        var config = MoeTestModels.Config(family) with { TieWordEmbeddings = false };
        var baseFolder = TinyModelFactory.Create(Path.Combine(root, $"{family}-base"), config, seed: seed);
        var adapted = Path.Combine(root, $"{family}-image");
        Directory.CreateDirectory(adapted);
        foreach (var f in Directory.GetFiles(baseFolder)) File.Copy(f, Path.Combine(adapted, Path.GetFileName(f)), overwrite: true);
        var adapterConfig = new ImageTokenAdapterConfig { BaseVocabSize = BaseVocabulary, CodebookSize = codebook, GridSize = grid, LoraRank = 4, LoraAlpha = 8 };
        using var m = ModelLoader.Load(baseFolder);
        manual_seed(seed);
        using var adapter = new ImageTokenAdapter(m.Model, adapterConfig.Vocabulary.NewTokens, adapterConfig.LoraRank, adapterConfig.LoraAlpha);
        using (no_grad())
        {
            foreach (var lora in adapter.experts_lora)
            {
                lora.gate_up_B.normal_(0, 0.2);
                lora.down_B.normal_(0, 0.2);
            }
        }
        adapter.Save(adapted, adapterConfig);
        return (baseFolder, adapted);
    }

    /// <summary>The float32 values' bit patterns (bitwise comparison).</summary>
    public static int[] Bits(Tensor t) => t.contiguous().data<float>().ToArray().Select(BitConverter.SingleToInt32Bits).ToArray();

    /// <summary>max |a - b| / max |b|.</summary>
    public static float RelativeDifference(Tensor a, Tensor b) => (a - b).abs().max().item<float>() / b.abs().max().item<float>();
}
