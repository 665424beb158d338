using Platform.Inference.Loading;
using Platform.Inference.Tokenization;
using Platform.Multimodal.Imaging;
using Platform.Multimodal.Serving;
using Platform.Multimodal.Training;
using Platform.Multimodal.World;

namespace Platform.Multimodal.Tests.Training;

/// <summary>Trains the whole family once at tiny sizes (a few steps per stage) and checks the folder it writes.</summary>
public sealed class QuickModelFixture : IDisposable
{
    public QuickModelFixture()
    {
        Folder = Directory.CreateTempSubdirectory("demo-quick-").FullName;
        Log = [];
        new FamilyTrainer(TrainOptions.Quick(Folder), Log.Add).Run();
    }

    public string Folder { get; }
    public List<string> Log { get; }

    public void Dispose() => Directory.Delete(Folder, recursive: true);
}

[Collection(TorchGlobalRngCollection.Name)]
public sealed class FamilyTrainerTests(QuickModelFixture model) : IClassFixture<QuickModelFixture>
{
    [Fact]
    public void Run_QuickOptions_WritesEveryFileOfTheFolder()
    {
        foreach (var file in new[] { "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json",
                     ModelFiles.Config, ModelFiles.Heads, ModelFiles.DecoderWeights, ModelFiles.DecoderOnnx, ModelFiles.Gallery, ModelFiles.GalleryCaptions })
            Assert.True(File.Exists(Path.Combine(model.Folder, file)), $"{file} missing");
        Assert.Contains(model.Log, l => l.Contains("lm step 2: loss"));
        Assert.Contains(model.Log, l => l.Contains("gill heads step 2"));
    }

    [Fact]
    public void Run_QuickOptions_LanguageModelLoadsWithEngineLoaderAndKnowsImgTokens()
    {
        using var loaded = ModelLoader.Load(model.Folder);
        // The folder's own template (the demo layout), run by the Jinja interpreter: the same prompt as the built-in "demo".
        Assert.Equal("jinja", loaded.ChatTemplate.Name);
        Platform.Inference.Engine.ChatMessage[] chat = [new("user", "draw a red circle"), new("assistant", "[IMG0]"), new("user", "again")];
        Assert.Equal(Platform.Inference.Chat.ChatTemplate.ForName("demo").Render(chat), loaded.ChatTemplate.Render(chat));
        for (int i = 0; i < WorldText.ImageTokenCount; i++)
            Assert.NotNull(loaded.Tokenizer.TokenToId($"[IMG{i}]"));
        Assert.Equal(loaded.Tokenizer.TokenToId("[IMG0]") + 7, loaded.Tokenizer.TokenToId("[IMG7]"));
        var ids = loaded.Tokenizer.Encode("draw a small red circle at the top left.[IMG0]");
        Assert.Equal("draw a small red circle at the top left.[IMG0]", loaded.Tokenizer.Decode(ids));
        Assert.Contains(loaded.Tokenizer.TokenToId("[IMG0]")!.Value, ids);
        // Every world word is one token (the BPE was trained on the world's text).
        Assert.Equal(2, loaded.Tokenizer.Encode(" triangle circle").Count);
    }

    [Fact]
    public void Encode_DialogueWithImage_PutsVisualTokensAndLossOnAssistantOnly()
    {
        var chat = new DemoChat(TokenizerLoader.Load(model.Folder), 8);
        var dialogue = new SceneGenerator(1).Caption();
        var encoded = chat.Encode(dialogue.Turns);
        Assert.Single(encoded.ImageStarts);
        Assert.Equal(Enumerable.Repeat(-1, 8), encoded.Ids.Skip(encoded.ImageStarts[0]).Take(8));
        var trained = chat.Tokenizer.Decode(encoded.Ids.Where((_, i) => encoded.Loss[i]));
        Assert.Equal(dialogue.Turns[1].Text + "<|im_end|>", trained);
    }

    [Fact]
    public void Encode_TwoPicturesInOneAnswer_WordsOfEachStartAtTheAnswerAndAfterThePreviousImageTokens()
    {
        var chat = new DemoChat(TokenizerLoader.Load(model.Folder), 8);
        var dialogue = new SceneGenerator(5).TwoPictures();
        var encoded = chat.Encode(dialogue.Turns);
        Assert.Equal(2, encoded.ImgTokenStarts.Count);
        var header = chat.Tokenizer.Encode("<|im_start|>assistant\n");
        int answer = Enumerable.Range(0, encoded.Ids.Length - header.Count).Last(i => encoded.Ids.Skip(i).Take(header.Count).SequenceEqual(header)) + header.Count;
        Assert.Equal([answer, encoded.ImgTokenStarts[0] + 8], encoded.ImgContextStarts);
        // The engine's count for the second picture: the completion after the first picture's [IMG] tokens.
        var words = chat.Tokenizer.Decode(encoded.Ids[encoded.ImgContextStarts[1]..encoded.ImgTokenStarts[1]]);
        Assert.StartsWith(" and here is", words);
    }

    [Fact]
    public void MultimodalModels_QuickFolder_EncodesImagesAndProducesBothKindsOfPicture()
    {
        using var models = MultimodalModels.Load(model.Folder);
        var png = ImageCodec.EncodePng(SceneRenderer.Render(new SceneGenerator(2).NextScene()), WorldSpec.ImageSize, WorldSpec.ImageSize);
        var visual = models.EncodeImage(png);
        Assert.Equal((models.Config.VisualTokens, models.Config.LmHiddenSize), (visual.Tokens, visual.Hidden));
        Assert.Equal(visual.Tokens * visual.Hidden, visual.Data.Length);

        int r = models.Config.ImageTokens, h = models.Config.LmHiddenSize;
        var random = new Random(1);
        var slot = new Platform.Inference.Engine.ImageSlot(r, h, Enumerable.Range(0, r * h).Select(_ => (float)random.NextDouble()).ToArray(), new float[r * h]);
        var generated = models.ProduceImage(slot, ImageDecision.Generate);
        Assert.Null(generated.GalleryIndex);
        Assert.Equal(WorldSpec.ImageSize, ImageCodec.DecodeRgb(generated.Png).Width);
        var retrieved = models.ProduceImage(slot, ImageDecision.Retrieve);
        Assert.InRange(retrieved.GalleryIndex!.Value, 0, models.GallerySize - 1);
        Assert.Equal(SceneRenderer.Render(Gallery.Scenes()[retrieved.GalleryIndex.Value]), retrieved.Rgb);
        Assert.Throws<ArgumentException>(() => models.ProduceImage(slot with { Tokens = 3 }));
        // With the words before the [IMG] tokens (up to mapper_context of them), and one word too many.
        int words = models.Config.MapperContext;
        var withWords = new Platform.Inference.Engine.ImageSlot(r + words, h, new float[(r + words) * h], new float[(r + words) * h]);
        Assert.Equal(ImageDecision.Generate, models.ProduceImage(withWords, ImageDecision.Generate).Decision);
        var tooMany = new Platform.Inference.Engine.ImageSlot(r + words + 1, h, new float[(r + words + 1) * h], new float[(r + words + 1) * h]);
        Assert.Throws<ArgumentException>(() => models.ProduceImage(tooMany));
    }

    [Fact]
    public void MultimodalModels_CorruptInputImage_ThrowsImageDecodeException()
    {
        using var models = MultimodalModels.Load(model.Folder);
        Assert.Throws<ImageDecodeException>(() => models.EncodeImage("GIF89a garbage"u8.ToArray(), "x.gif"));
    }

    [Fact]
    public void MultimodalModels_MissingFile_ThrowsNamingIt()
    {
        var copy = Directory.CreateTempSubdirectory("demo-missing-").FullName;
        try
        {
            foreach (var f in Directory.GetFiles(model.Folder)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
            File.Delete(Path.Combine(copy, ModelFiles.DecoderOnnx));
            var e = Assert.Throws<FileNotFoundException>(() => MultimodalModels.Load(copy));
            Assert.Contains(ModelFiles.DecoderOnnx, e.Message);
        }
        finally { Directory.Delete(copy, recursive: true); }
    }

    [Fact]
    public async Task TextEngine_QuickFolderWithVisualTokens_GeneratesThroughEngine()
    {
        using var models = MultimodalModels.Load(model.Folder);
        var png = ImageCodec.EncodePng(SceneRenderer.Render(new SceneGenerator(4).NextScene()), WorldSpec.ImageSize, WorldSpec.ImageSize);
        await using var engine = Platform.Inference.Engine.TextEngine.Load("demo", model.Folder, new Platform.Inference.Engine.EngineOptions());
        var request = new Platform.Inference.Engine.GenerationRequest
        {
            Messages = [new Platform.Inference.Engine.ChatMessage("user", "<image> describe the image.", [models.EncodeImage(png)])],
            MaxNewTokens = 6, Sampling = Platform.Inference.Engine.SamplingOptions.Greedy, ReportImageSlots = true,
        };
        var updates = new List<Platform.Inference.Engine.GenerationUpdate>();
        await foreach (var u in engine.GenerateAsync(request, CancellationToken.None)) updates.Add(u);
        Assert.NotNull(updates[^1].FinishReason);
        // Prompt length as the engine counts it equals ours (same tokenizer, same splice of 8 visual tokens).
        var chat = new DemoChat(TokenizerLoader.Load(model.Folder), models.Config.VisualTokens);
        var ours = chat.Encode([new WorldTurn("user", "<image> describe the image.", [new SceneGenerator(4).NextScene()])], addGenerationPrompt: true);
        Assert.Equal(ours.Ids.Length, updates[^1].PromptTokens);
    }

    [Fact]
    public void Run_LaterStagesAlone_TrainAsInTheFullRun()
    {
        var copy = Directory.CreateTempSubdirectory("demo-stages-").FullName;
        try
        {
            foreach (var file in Directory.GetFiles(model.Folder)) File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
            var log = new List<string>();
            new FamilyTrainer(TrainOptions.Quick(copy), log.Add).Run(stages: ["tokenizer", "lm", "heads"]);
            static IEnumerable<string> Steps(IEnumerable<string> lines) =>
                lines.Where(l => l.Contains("lm step") || l.Contains("gill heads step")).Select(l => l[(l.IndexOf(']') + 1)..]);
            Assert.NotEmpty(Steps(log));
            Assert.Equal(Steps(model.Log), Steps(log));
            Assert.DoesNotContain(log, l => l.Contains("decoder step") || l.Contains("visual encoder step"));
        }
        finally { Directory.Delete(copy, recursive: true); }
    }
}
