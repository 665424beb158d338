using Platform.Multimodal.Models;
using Platform.Multimodal.Training;
using Platform.Multimodal.World;
using static TorchSharp.torch;

namespace Platform.Multimodal.Tests.Models;

public sealed class ModuleShapeTests
{
    private static readonly MultimodalConfig Config = new() { LmHiddenSize = 48, MapperDim = 32, MapperHeads = 4 };

    [Fact]
    public void GillMapper_ImgStates_MapsToAttributeLogitsAndConditioning()
    {
        using var heads = new MultimodalHeads(Config);
        using var hidden = randn(3, Config.ImageTokens, Config.LmHiddenSize);
        using var embeds = randn(3, Config.ImageTokens, Config.LmHiddenSize);
        using var logits = heads.mapper.forward(hidden, embeds);
        Assert.Equal(new long[] { 3, Config.ConditionSlots, ConditionEncoder.LogitWidth }, logits.shape);
        using var conditioning = heads.Conditioning(hidden, embeds);
        Assert.Equal(new long[] { 3, Config.ConditionSlots, Config.ConditionDim }, conditioning.shape);
    }

    [Fact]
    public void GillMapper_MemoryPaddedAtTheFrontAndMasked_GivesTheSameLogits()
    {
        var config = Config with { MapperContext = 6 };
        using var mapper = new GillMapper(config);
        int rows = config.ImageTokens + 3, pad = 3;
        using var hidden = randn(1, rows, config.LmHiddenSize);
        using var embeds = randn(1, rows, config.LmHiddenSize);
        using var alone = mapper.forward(hidden, embeds);
        // The same rows behind 3 rows of noise that the mask drops: the rows keep their distance from the end.
        using var padded = mapper.Forward(cat([randn(1, pad, config.LmHiddenSize) * 10, hidden], 1), cat([randn(1, pad, config.LmHiddenSize) * 10, embeds], 1),
            cat([zeros(1, pad, ScalarType.Bool), ones(1, rows, ScalarType.Bool)], 1));
        Assert.True((alone - padded).abs().max().item<float>() < 1e-5, "padding changed the logits");
        using var unmasked = mapper.forward(cat([randn(1, pad, config.LmHiddenSize) * 10, hidden], 1), cat([randn(1, pad, config.LmHiddenSize) * 10, embeds], 1));
        Assert.True((alone - unmasked).abs().max().item<float>() > 1e-4, "the extra rows were not read at all");
    }

    [Fact]
    public void GillMapper_MemoryLongerThanContextAndImageTokens_Throws()
    {
        using var mapper = new GillMapper(Config with { MapperContext = 2 });
        using var hidden = randn(1, Config.ImageTokens + 3, Config.LmHiddenSize);
        var e = Assert.Throws<ArgumentException>(() => mapper.forward(hidden, hidden));
        Assert.Contains("mapper_context", e.Message);
    }

    [Fact]
    public void GillMapper_StateDict_HasGillLayoutWithOneQueryPerSlotAttribute()
    {
        using var mapper = new GillMapper(Config);
        var shapes = mapper.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        Assert.Equal(new long[] { Config.MapperDim, 2 * Config.LmHiddenSize }, shapes["in_proj.weight"]);
        Assert.Equal(new long[] { Config.ConditionSlots * ConditionEncoder.GroupSizes.Length, Config.MapperDim }, shapes["queries"]);
        Assert.Equal(new long[] { Config.MapperDim, Config.MapperDim }, shapes["layers.0.cross_attn.q_proj.weight"]);
        Assert.DoesNotContain(shapes.Keys, k => k.Contains("self_attn"));
        Assert.Equal(new long[] { ConditionEncoder.LogitWidth, Config.MapperDim }, shapes["out_proj.weight"]);
        Assert.Equal(new long[] { Config.MapperContext + Config.ImageTokens, Config.MapperDim }, shapes["memory_pos"]);
    }

    [Fact]
    public void GillMapper_ChangedShapeQuery_LeavesColourLogitsUnchanged()
    {
        // Each (slot, attribute) query reads out only its own attribute: the colour logits come from the colour queries.
        using var mapper = new GillMapper(Config);
        using var hidden = randn(2, Config.ImageTokens, Config.LmHiddenSize);
        using var embeds = randn(2, Config.ImageTokens, Config.LmHiddenSize);
        using var before = mapper.forward(hidden, embeds);
        // Slot 0's shape query (a random direction: a constant shift would vanish in the LayerNorms).
        using (no_grad()) mapper.queries[1].add_(randn(Config.MapperDim));
        using var after = mapper.forward(hidden, embeds);
        var g = ConditionEncoder.GroupSizes;
        Assert.True((before[0, 0, ..g[0]] - after[0, 0, ..g[0]]).abs().max().item<float>() < 1e-6, "colour logits moved");
        Assert.True((before[0, 0, g[0]..(g[0] + g[1])] - after[0, 0, g[0]..(g[0] + g[1])]).abs().max().item<float>() > 1e-4, "shape logits did not move");
    }

    [Fact]
    public void ConditionEncoder_OneHotLogits_GiveTheSameConditioningAsAttributes()
    {
        using var encoder = new ConditionEncoder(Config);
        var scene = new SceneGenerator(3).NextScene(objectCount: 1);
        using var attributes = ConditionEncoder.Attributes([scene], Config.ConditionSlots);
        var groups = ConditionEncoder.SplitGroups(zeros(1, Config.ConditionSlots, ConditionEncoder.LogitWidth));
        var parts = groups.Select((t, i) => nn.functional.one_hot(attributes[.., .., i], ConditionEncoder.GroupSizes[i]).to_type(ScalarType.Float32) * 100).ToArray();
        using var logits = cat(parts, -1);
        using var exact = encoder.forward(attributes);
        using var soft = encoder.FromLogits(logits);
        Assert.True((exact - soft).abs().max().item<float>() < 1e-4);
        Assert.Equal(attributes.data<long>().ToArray(), ConditionEncoder.Predict(logits).data<long>().ToArray());
    }

    [Fact]
    public void ImageDecoder_Conditioning_GivesImageInUnitRange()
    {
        using var decoder = new ImageDecoder(Config);
        using var cond = randn(2, Config.ConditionSlots, Config.ConditionDim);
        var (image, logits) = decoder.Forward(cond);
        Assert.Equal(new long[] { 2, 3, Config.ImageSize, Config.ImageSize }, image.shape);
        Assert.Equal(new long[] { 2, Config.ConditionSlots, Config.ImageSize, Config.ImageSize }, logits.shape);
        Assert.True(image.min().item<float>() >= 0 && image.max().item<float>() <= 1);
        var keys = decoder.state_dict().Keys.ToHashSet();
        Assert.Superset(new HashSet<string> { "mask_fc1.weight", "mask_fc2.weight", "mask_up.weight", "mask_up.bias", "colour_fc.weight", "background" }, keys);
        Assert.Equal(new long[] { 8, 1, 4, 4 }, decoder.mask_up.weight!.shape);
    }

    [Fact]
    public void VisualEncoderAndProjection_Image_GiveAttributeLogitsAndOneTokenPerAttribute()
    {
        using var heads = new MultimodalHeads(Config);
        using var images = LmBatch.RenderImages([new SceneGenerator(1).NextScene()]);
        using var logits = heads.visual_encoder.forward(images);
        using var tokens = heads.VisualTokens(images);
        using var latent = heads.ImageLatent(images);
        Assert.Equal(new long[] { 1, Config.ConditionSlots, ConditionEncoder.LogitWidth }, logits.shape);
        Assert.Equal(8, Config.VisualTokens);
        Assert.Equal(new long[] { 1, Config.VisualTokens, Config.LmHiddenSize }, tokens.shape);
        Assert.Equal(new long[] { 1, Config.ConditionSlots, Config.ConditionDim }, latent.shape);
    }

    [Fact]
    public void VisualEncoder_SameShapeInAnotherColour_GivesTheSameFormLogits()
    {
        // The form branch sees only the foreground mask: recolouring an object cannot change its shape, size or cell.
        using var encoder = new VisualEncoder(Config);
        var red = new Scene([new SceneObject(0, Shape.Triangle, ObjectSize.Large, 1, 2)]);
        var blue = new Scene([new SceneObject(2, Shape.Triangle, ObjectSize.Large, 1, 2)]);
        using var logits = encoder.forward(LmBatch.RenderImages([red, blue]));
        int colour = ConditionEncoder.GroupSizes[0];
        Assert.True((logits[0, .., colour..] - logits[1, .., colour..]).abs().max().item<float>() < 1e-3);
    }

    [Fact]
    public void VisualProjection_WrongTokenCount_Throws()
    {
        Assert.Throws<ArgumentException>(() => new VisualProjection(Config with { VisualTokens = 4 }));
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
