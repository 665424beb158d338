using Platform.Inference.Engine;
using Platform.Multimodal.MoeAdapter.Training;
using Platform.Multimodal.Onnx;
using Platform.Multimodal.Tests.Serving;
using static TorchSharp.torch;

namespace Platform.Multimodal.Tests.MoeAdapter.Training;

/// <summary>Training reads torch's global generator: these tests run alone, not beside other tests that draw from it.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchRandomCollection
{
    public const string Name = "torch global random generator";
}

[Collection(TorchRandomCollection.Name)]
public sealed class MoeFamilyTrainerTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("moe-family-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task Run_Quick_WritesTokenizerAndBaseThatLoad()
    {
        var log = new List<string>();
        new MoeFamilyTrainer(MoeTrainOptions.Quick(_folder, DemoModelFixture.Folder()), log.Add).Run();
        Assert.Contains(log, l => l.Contains("vq check"));
        Assert.Contains(log, l => l.Contains("base routing, layer 0"));
        Assert.Contains(log, l => l.Contains("trainable weights") && l.Contains("% of base + adapter"));
        using (var lm = MoeAdapterStage.LoadBase(_folder))
        {
            using var adapter = Platform.Inference.Models.Moe.ImageTokenAdapter.Load(lm, _folder);
            Assert.NotNull(adapter);
            Assert.Equal(16 + 2, adapter.NewTokens);
        }

        using var vq = MoeFamilyTrainer.LoadVq(_folder);
        using var onnx = new OnnxVqDecoder(Path.Combine(_folder, MoeModelFiles.VqDecoderOnnx));
        Assert.Equal(vq.Config.CodebookSize, onnx.CodebookSize);
        using var codes = vq.Encode(rand(1, 3, 64, 64));
        Assert.Equal(3 * 64 * 64, onnx.Run(codes.data<long>().ToArray(), 1).Length);

        await using var engine = TextEngine.Load("moe", _folder, new EngineOptions { MaxConcurrentSequences = 1, Threads = 1 });
        var n = 0;
        await foreach (var u in engine.GenerateAsync(new GenerationRequest { Messages = [new ChatMessage("user", "hello")], MaxNewTokens = 4, Sampling = SamplingOptions.Greedy }, CancellationToken.None))
            n += u.TokenIds.Count;
        Assert.True(n > 0);
    }

    [Fact]
    public void Run_UnknownStage_ThrowsListingStages()
    {
        var e = Assert.Throws<ArgumentException>(() => new MoeFamilyTrainer(MoeTrainOptions.Quick(_folder, "none"), _ => { }).Run(stages: ["lora"]));
        Assert.Contains("vq, base, adapter", e.Message);
    }

    [Fact]
    public void Run_BaseWithoutDenseModel_ThrowsNamingFile()
    {
        var e = Assert.Throws<FileNotFoundException>(() => new MoeFamilyTrainer(MoeTrainOptions.Quick(_folder, Path.Combine(_folder, "missing")), _ => { }).Run(stages: ["base"]));
        Assert.Contains("missing", e.Message);
    }

    [Fact]
    public void Run_AdapterWithoutBase_ThrowsNamingFile()
    {
        var e = Assert.Throws<FileNotFoundException>(() => new MoeFamilyTrainer(MoeTrainOptions.Quick(_folder, "none"), _ => { }).Run(stages: ["adapter"]));
        Assert.Contains("model.safetensors", e.Message);
    }

    [Fact]
    public void AdapterStage_SameSeed_SameAdapterAndBaseUntouched()
    {
        var a = Path.Combine(_folder, "a");
        var b = Path.Combine(_folder, "b");
        new MoeFamilyTrainer(MoeTrainOptions.Quick(a, DemoModelFixture.Folder()), _ => { }).Run(stages: ["vq", "base"]);
        Directory.CreateDirectory(b);
        foreach (var file in Directory.GetFiles(a)) File.Copy(file, Path.Combine(b, Path.GetFileName(file)));
        var baseBytes = File.ReadAllBytes(Path.Combine(a, "model.safetensors"));
        new MoeFamilyTrainer(MoeTrainOptions.Quick(a, DemoModelFixture.Folder()), _ => { }).Run(stages: ["adapter"]);
        new MoeFamilyTrainer(MoeTrainOptions.Quick(b, DemoModelFixture.Folder()), _ => { }).Run(stages: ["adapter"]);
        var weights = Platform.Inference.Models.Moe.ImageTokenAdapterConfig.WeightsFileName;
        Assert.Equal(File.ReadAllBytes(Path.Combine(a, weights)), File.ReadAllBytes(Path.Combine(b, weights)));
        Assert.Equal(baseBytes, File.ReadAllBytes(Path.Combine(a, "model.safetensors")));
        var config = Platform.Inference.Models.Moe.ImageTokenAdapterConfig.TryRead(a)!;
        Assert.Equal((Platform.Inference.Loading.ModelLoader.ReadConfig(a).VocabSize, 16, 2), (config.BaseVocabSize, config.CodebookSize, config.LoraRank));
    }

    [Fact]
    public void Stages_SameSeed_SameWeights()
    {
        var a = Path.Combine(_folder, "a");
        var b = Path.Combine(_folder, "b");
        new MoeFamilyTrainer(MoeTrainOptions.Quick(a, DemoModelFixture.Folder()), _ => { }).Run(stages: ["vq"]);
        new MoeFamilyTrainer(MoeTrainOptions.Quick(b, DemoModelFixture.Folder()), _ => { }).Run(stages: ["vq"]);
        Assert.Equal(File.ReadAllBytes(Path.Combine(a, MoeModelFiles.VqWeights)), File.ReadAllBytes(Path.Combine(b, MoeModelFiles.VqWeights)));
    }
}
