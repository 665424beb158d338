using Platform.Inference.Engine;
using Platform.Multimodal.Models;
using Platform.Multimodal.Serving;
using Platform.Multimodal.Training;
using Platform.Multimodal.World;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Platform.Multimodal.Tests.Serving;

/// <summary>An input-only multimodal folder (a model that reads images and draws none, like a judge): loads with only
/// the visual encoder and projection, encodes exactly as those modules compute, and refuses to draw.</summary>
public sealed class InputOnlyModelsTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "input-only-" + Guid.NewGuid().ToString("N"));
    private static readonly MultimodalConfig Config = new() { LmHiddenSize = 48, InputOnly = true };

    public void Dispose()
    {
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }

    private VisualInput WriteFolder()
    {
        manual_seed(5);
        var input = new VisualInput(Config);
        InputOnlyFolder.Write(_folder, input);
        return input;
    }

    [Fact]
    public void Load_InputOnlyFolder_EncodesAsTheModulesDo()
    {
        using var input = WriteFolder();
        using var models = MultimodalModels.Load(_folder);
        Assert.False(models.ProducesImages);
        var rgb = SceneRenderer.Render(new Scene([new SceneObject(0, Shape.Circle, ObjectSize.Small, 0, 0)]));
        var tokens = models.EncodeRgb(rgb);
        Assert.Equal((8, 48), (tokens.Tokens, tokens.Hidden));
        float[] expected;
        using (no_grad())
        using (var t = input.VisualTokens(tensor(SceneRenderer.ToPlanar(rgb), [1, 3, Config.ImageSize, Config.ImageSize])))
            expected = t.contiguous().data<float>().ToArray();
        Assert.Equal(expected.Length, tokens.Data.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - tokens.Data[i]) < 1e-5f, $"value {i}: {expected[i]} vs {tokens.Data[i]}");
        // Another picture gives other tokens: the encoder reads the pixels.
        var other = models.EncodeRgb(SceneRenderer.Render(new Scene([new SceneObject(2, Shape.Triangle, ObjectSize.Large, 2, 2)])));
        Assert.NotEqual(tokens.Data, other.Data);
    }

    [Fact]
    public void ProduceImages_InputOnlyModel_Throws()
    {
        using var input = WriteFolder();
        using var models = MultimodalModels.Load(_folder);
        var slot = new ImageSlot(8, 48, new float[8 * 48], new float[8 * 48]);
        var e = Assert.Throws<ArgumentException>(() => models.ProduceImages([new ImageSlotRequest(slot)]));
        Assert.Contains("input-only", e.Message);
        Assert.Throws<InvalidOperationException>(() => models.Heads);
    }

    [Fact]
    public void Load_InputOnlyFolderWithoutWeights_NamesTheFile()
    {
        using (WriteFolder()) { }
        File.Delete(Path.Combine(_folder, ModelFiles.Heads));
        var e = Assert.Throws<FileNotFoundException>(() => MultimodalModels.Load(_folder));
        Assert.Contains(ModelFiles.Heads, e.Message);
    }

    [Fact]
    public void Load_InputOnlyFolderWithFullHeads_RefusesTheExtraWeights()
    {
        using (WriteFolder()) { }
        using (var full = new MultimodalHeads(Config)) full.save_safetensors(Path.Combine(_folder, ModelFiles.Heads));
        var e = Assert.Throws<InvalidDataException>(() => MultimodalModels.Load(_folder));
        Assert.Contains(ModelFiles.Heads, e.Message);
    }
}
