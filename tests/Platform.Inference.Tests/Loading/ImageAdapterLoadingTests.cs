using Platform.Inference.Engine;
using Platform.Inference.Loading;
using Platform.Inference.Models.Moe;
using Platform.Inference.Tests.Models.Moe;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Loading;

/// <summary>Loading image-token MoE folders (base files + image_adapter_config.json + image_adapter.safetensors).</summary>
[Collection(TorchGlobalRngCollection.Name)]
public sealed class ImageAdapterLoadingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("moe-image-load-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Copy(string folder)
    {
        var dest = Path.Combine(_dir, "copy-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dest);
        foreach (var f in Directory.GetFiles(folder)) File.Copy(f, Path.Combine(dest, Path.GetFileName(f)));
        return dest;
    }

    [Fact]
    public void Load_ImageTokenFolder_AttachesAdapterAndVocabulary()
    {
        var (baseFolder, imageFolder) = ImageTokenModels.Create(_dir, codebook: 16, grid: 2);
        using var m = ModelLoader.Load(imageFolder);
        Assert.NotNull(m.ImageAdapter);
        Assert.Same(m.ImageAdapter, m.Model.ImageAdapter);
        Assert.Equal(new ImageVocabulary(512, 16, 4), m.ImageVocabulary);
        Assert.Equal(2, m.ImageAdapterConfig!.GridSize);
        Assert.Equal(512 + 18, m.Model.OutputVocabulary);
        Assert.NotNull(m.Routing);
        Assert.Equal(m.Config.NumHiddenLayers, m.Routing!.Layers);

        using var plain = ModelLoader.Load(baseFolder);
        Assert.Null(plain.ImageAdapter);
        Assert.Null(plain.ImageVocabulary);
        Assert.Equal(512, plain.Model.OutputVocabulary);
        Assert.NotNull(plain.Routing);
    }

    [Fact]
    public void Load_BadAdapterFiles_ModelLoadExceptionNamingTheFile()
    {
        var (baseFolder, imageFolder) = ImageTokenModels.Create(_dir);
        string weights = ImageTokenAdapterConfig.WeightsFileName, cfg = ImageTokenAdapterConfig.FileName;

        var noWeights = Copy(imageFolder);
        File.Delete(Path.Combine(noWeights, weights));
        Assert.Contains(weights, Assert.Throws<ModelLoadException>(() => ModelLoader.Load(noWeights)).Message);

        var noConfig = Copy(imageFolder);
        File.Delete(Path.Combine(noConfig, cfg));
        Assert.Contains(weights, Assert.Throws<ModelLoadException>(() => ModelLoader.Load(noConfig)).Message);

        var badJson = Copy(imageFolder);
        File.WriteAllText(Path.Combine(badJson, cfg), "{ not json");
        Assert.Contains(cfg, Assert.Throws<ModelLoadException>(() => ModelLoader.Load(badJson)).Message);

        var outOfRange = Copy(imageFolder);
        File.WriteAllText(Path.Combine(outOfRange, cfg), """{"base_vocab_size":512,"codebook_size":16,"grid_size":0}""");
        Assert.Contains(cfg, Assert.Throws<ModelLoadException>(() => ModelLoader.Load(outOfRange)).Message);

        var wrongVocab = Copy(imageFolder);
        File.WriteAllText(Path.Combine(wrongVocab, cfg), new ImageTokenAdapterConfig { BaseVocabSize = 500, CodebookSize = 16, GridSize = 2, LoraRank = 4, LoraAlpha = 8 }.ToJson());
        var e = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(wrongVocab));
        Assert.Contains(cfg, e.Message);
        Assert.Contains("base_vocab_size 500", e.Message);

        // A config that describes another codebook than the weights hold: the shapes disagree.
        var wrongShape = Copy(imageFolder);
        File.WriteAllText(Path.Combine(wrongShape, cfg), new ImageTokenAdapterConfig { BaseVocabSize = 512, CodebookSize = 20, GridSize = 2, LoraRank = 4, LoraAlpha = 8 }.ToJson());
        e = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(wrongShape));
        Assert.Contains(weights, e.Message);
        Assert.Contains("new_embeddings", e.Message);

        var wrongRank = Copy(imageFolder);
        File.WriteAllText(Path.Combine(wrongRank, cfg), new ImageTokenAdapterConfig { BaseVocabSize = 512, CodebookSize = 16, GridSize = 2, LoraRank = 8, LoraAlpha = 8 }.ToJson());
        Assert.Contains("experts_lora", Assert.Throws<ModelLoadException>(() => ModelLoader.Load(wrongRank)).Message);

        var truncated = Copy(imageFolder);
        var bytes = File.ReadAllBytes(Path.Combine(truncated, weights));
        File.WriteAllBytes(Path.Combine(truncated, weights), bytes[..(bytes.Length / 2)]);
        Assert.Contains(weights, Assert.Throws<ModelLoadException>(() => ModelLoader.Load(truncated)).Message);

        // The adapter on a dense model.
        var dense = Copy(TestModels.Llama);
        File.Copy(Path.Combine(imageFolder, cfg), Path.Combine(dense, cfg));
        File.Copy(Path.Combine(imageFolder, weights), Path.Combine(dense, weights));
        Assert.Contains(cfg, Assert.Throws<ModelLoadException>(() => ModelLoader.Load(dense)).Message);

        // The base folder itself still loads.
        using var ok = ModelLoader.Load(baseFolder);
        Assert.Null(ok.ImageAdapter);
    }
}
