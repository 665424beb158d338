using Platform.Multimodal.Models;
using Platform.Multimodal.Training;
using Platform.Multimodal.World;
using static TorchSharp.torch;

namespace Platform.Multimodal.Tests.Models;

public sealed class ModuleShapeTests
{
    private static readonly MultimodalConfig Config = new() { LmHiddenSize = 48, MapperDim = 32, MapperHeads = 4 };

    [Fact]
    public void GillMapper_ImgStates_MapsToConditioningShape()
    {
        using var mapper = new GillMapper(Config);
        using var hidden = randn(3, Config.ImageTokens, Config.LmHiddenSize);
        using var embeds = randn(3, Config.ImageTokens, Config.LmHiddenSize);
        using var output = mapper.forward(hidden, embeds);
        Assert.Equal(new long[] { 3, Config.ConditionSlots, Config.ConditionDim }, output.shape);
    }

    [Fact]
    public void GillMapper_StateDict_HasGillLayout()
    {
        using var mapper = new GillMapper(Config);
        var shapes = mapper.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        Assert.Equal(new long[] { Config.MapperDim, 2 * Config.LmHiddenSize }, shapes["in_proj.weight"]);
        Assert.Equal(new long[] { Config.ConditionSlots, Config.MapperDim }, shapes["queries"]);
        Assert.Equal(new long[] { Config.MapperDim, Config.MapperDim }, shapes["layers.0.cross_attn.q_proj.weight"]);
        Assert.Equal(new long[] { Config.MapperDim, Config.MapperDim }, shapes["layers.0.self_attn.o_proj.weight"]);
        Assert.Equal(new long[] { Config.ConditionDim, Config.MapperDim }, shapes["out_proj.weight"]);
    }

    [Fact]
    public void ImageDecoder_Conditioning_GivesImageInUnitRange()
    {
        using var decoder = new ImageDecoder(Config);
        using var cond = randn(2, Config.ConditionSlots, Config.ConditionDim);
        var (image, logits) = decoder.Forward(cond);
        Assert.Equal(new long[] { 2, 3, 32, 32 }, image.shape);
        Assert.Equal(new long[] { 2, Config.ConditionSlots, 32, 32 }, logits.shape);
        Assert.True(image.min().item<float>() >= 0 && image.max().item<float>() <= 1);
        var keys = decoder.state_dict().Keys.ToHashSet();
        Assert.Superset(new HashSet<string> { "mask_fc1.weight", "mask_fc2.weight", "mask_up.weight", "mask_up.bias", "colour_fc.weight", "background" }, keys);
        Assert.Equal(new long[] { 8, 1, 4, 4 }, decoder.mask_up.weight!.shape);
    }

    [Fact]
    public void VisualEncoderAndProjection_Image_GiveVisualTokens()
    {
        using var encoder = new VisualEncoder(Config);
        using var projection = new VisualProjection(Config);
        using var images = LmBatch.RenderImages([new SceneGenerator(1).NextScene()]);
        using var latent = encoder.forward(images);
        using var tokens = projection.forward(latent);
        Assert.Equal(new long[] { 1, Config.ConditionSlots, Config.ConditionDim }, latent.shape);
        Assert.Equal(new long[] { 1, Config.VisualTokens, Config.LmHiddenSize }, tokens.shape);
    }

    [Fact]
    public void RetrievalAndDecision_States_GiveUnitEmbeddingsAndTwoLogits()
    {
        using var retrieval = new RetrievalHead(Config);
        using var decision = new DecisionHead(Config);
        using var hidden = randn(4, Config.ImageTokens, Config.LmHiddenSize);
        using var text = retrieval.EmbedText(hidden);
        using var image = retrieval.EmbedImage(randn(4, Config.ConditionSlots, Config.ConditionDim));
        Assert.Equal(new long[] { 4, 256 }, text.shape);
        Assert.Equal(new long[] { 4, 256 }, image.shape);
        Assert.True((text.pow(2).sum(-1) - 1).abs().max().item<float>() < 1e-4);
        Assert.True((image.pow(2).sum(-1) - 1).abs().max().item<float>() < 1e-4);
        Assert.Equal(new long[] { 4, 2 }, decision.forward(hidden[.., 0]).shape);
    }

    [Fact]
    public void ConditionEncoder_Attributes_EmptySlotUsesNoneRows()
    {
        var scene = new Scene([new SceneObject(2, Shape.Square, ObjectSize.Large, 0, 2)]);
        using var attributes = ConditionEncoder.Attributes([scene], 2);
        Assert.Equal(new long[] { 2, (int)Shape.Square, (int)ObjectSize.Large, 0, 2 }, attributes[0, 0].data<long>().ToArray());
        Assert.Equal(new long[] { Palette.Count, 3, 2, 3, 3 }, attributes[0, 1].data<long>().ToArray());
    }
}
