using Platform.Inference.Engine;
using Platform.Multimodal.Imaging;
using Platform.Multimodal.Serving;
using Platform.Multimodal.World;

namespace Platform.Multimodal.Tests.Serving;

/// <summary>The shipped demo family (models/demo, or PLATFORM_DEMO_MODEL) with the [IMG] slots its own LM gives for
/// a few drawing requests of the world, loaded once for the batching tests.</summary>
public sealed class DemoModelFixture : IAsyncLifetime
{
    public MultimodalModels Models { get; private set; } = null!;
    public List<ImageSlot> Slots { get; } = [];
    public List<byte[]> Images { get; } = [];

    public static string Folder([System.Runtime.CompilerServices.CallerFilePath] string sourceFile = "")
    {
        if (Environment.GetEnvironmentVariable("PLATFORM_DEMO_MODEL") is { Length: > 0 } env) return env;
        foreach (var start in new[] { Path.GetDirectoryName(sourceFile)!, AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Platform.sln"))) return Path.Combine(dir.FullName, "models", "demo");
        throw new DirectoryNotFoundException("Platform.sln not found above the test sources or output; set PLATFORM_DEMO_MODEL.");
    }

    public async Task InitializeAsync()
    {
        var folder = Folder();
        Models = MultimodalModels.Load(folder);
        await using var engine = TextEngine.Load("demo", folder, new EngineOptions { MaxConcurrentSequences = 1 });
        var world = new SceneGenerator(77);
        for (int i = 0; Slots.Count < 6 && i < 60; i++)
        {
            var request = world.Instruction().Turns[0].Text;
            await foreach (var u in engine.GenerateAsync(new GenerationRequest
            {
                Messages = [new ChatMessage("user", request)], MaxNewTokens = 64, Sampling = SamplingOptions.Greedy, ReportImageSlots = true,
            }, CancellationToken.None))
                if (u.Image is not null && Slots.Count < 6) Slots.Add(u.Image);
        }
        if (Slots.Count < 6) throw new InvalidOperationException($"{folder}: the LM drew only {Slots.Count} images for 60 drawing requests");
        for (int i = 0; i < 6; i++)
            Images.Add(Models.DecodeImage(ImageCodec.EncodePng(SceneRenderer.Render(world.NextScene()), SceneRenderer.Size, SceneRenderer.Size)));
    }

    public Task DisposeAsync()
    {
        Models.Dispose();
        return Task.CompletedTask;
    }
}

public sealed class ImageBatcherTests(DemoModelFixture demo) : IClassFixture<DemoModelFixture>
{
    private static void AssertSameImage(ProducedImage expected, ProducedImage actual, string what)
    {
        Assert.Equal(expected.Decision, actual.Decision);
        Assert.Equal(expected.GalleryIndex, actual.GalleryIndex);
        Assert.True(Math.Abs(expected.RetrieveProbability - actual.RetrieveProbability) < 1e-5f, $"{what}: P(retrieve) {expected.RetrieveProbability} vs {actual.RetrieveProbability}");
        Assert.Equal(expected.Rgb.Length, actual.Rgb.Length);
        // Rows of a batched matmul may round differently from a single row; a pixel may then move by one level.
        var worst = expected.Rgb.Zip(actual.Rgb).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(worst <= 1, $"{what}: a pixel differs by {worst} levels");
        Assert.Equal(actual.Rgb, ImageCodec.DecodeRgb(actual.Png).Rgb);
    }

    private static ImageDecision? ForceOf(int i) => (i % 3) switch { 0 => null, 1 => ImageDecision.Generate, _ => ImageDecision.Retrieve };

    [Fact]
    public void ProduceImages_Batch_EachResultEqualsItsRequestAlone()
    {
        var requests = demo.Slots.Select((s, i) => new ImageSlotRequest(s, ForceOf(i))).ToList();
        var alone = requests.Select(q => demo.Models.ProduceImage(q.Slot, q.Force)).ToList();
        var batched = demo.Models.ProduceImages(requests);

        Assert.Equal(requests.Count, batched.Count);
        for (int i = 0; i < requests.Count; i++) AssertSameImage(alone[i], batched[i], $"request {i}");
        Assert.Contains(batched, p => p.Decision == ImageDecision.Generate);
        Assert.Contains(batched, p => p.Decision == ImageDecision.Retrieve);
        var generated = batched.Where(p => p.Decision == ImageDecision.Generate).ToList();
        Assert.True(generated.Select(p => Convert.ToBase64String(p.Rgb)).Distinct().Count() > 1,
            "every generated picture is the same: a mix-up between rows would go unnoticed");
    }

    [Fact]
    public void EncodeRgbBatch_Batch_EachResultEqualsItsImageAlone()
    {
        var alone = demo.Images.Select(demo.Models.EncodeRgb).ToList();
        var batched = demo.Models.EncodeRgbBatch(demo.Images);
        for (int i = 0; i < alone.Count; i++)
        {
            Assert.Equal((alone[i].Tokens, alone[i].Hidden), (batched[i].Tokens, batched[i].Hidden));
            var diff = alone[i].Data.Zip(batched[i].Data).Max(p => Math.Abs(p.First - p.Second));
            Assert.True(diff < 1e-4f, $"image {i}: max |batched - alone| {diff}");
        }
        Assert.NotEqual(alone[0].Data, alone[1].Data);
    }

    [Fact]
    public async Task ProduceImageAsync_ConcurrentWithABadAndACancelledRequest_EveryOtherGetsItsOwnResult()
    {
        using var batcher = new ImageBatcher("demo", demo.Models, new ImageBatchOptions { MaxBatchSize = 16 });
        var alone = demo.Slots.Select((s, i) => demo.Models.ProduceImage(s, ForceOf(i))).ToList();
        using var cancel = new CancellationTokenSource();
        var bad = demo.Slots[0] with { Tokens = demo.Slots[0].Tokens - 1 };

        var tasks = demo.Slots.Select((s, i) => Task.Run(() => batcher.ProduceImageAsync(s, ForceOf(i), CancellationToken.None))).ToList();
        var cancelled = batcher.ProduceImageAsync(demo.Slots[1], null, cancel.Token);
        cancel.Cancel();
        var e = Assert.Throws<ArgumentException>(() => { _ = batcher.ProduceImageAsync(bad, null, CancellationToken.None); });
        var results = await Task.WhenAll(tasks);

        Assert.Contains("image slot must be", e.Message);
        // Cancelled while queued (skipped) or while its batch ran (result dropped); only a batch that ended before
        // the cancellation could have answered it.
        var outcome = await Record.ExceptionAsync(() => cancelled);
        Assert.True(outcome is OperationCanceledException || cancelled.IsCompletedSuccessfully, $"cancelled request ended with {outcome}");
        for (int i = 0; i < results.Length; i++) AssertSameImage(alone[i], results[i], $"request {i}");
        Assert.InRange(batcher.ProduceStats.Inputs, demo.Slots.Count, demo.Slots.Count + 1);
    }

    [Fact]
    public async Task ProduceImageAsync_OneTorchThread_EachResultEqualsItsRequestAloneAndItsPngDecodesToIt()
    {
        using var batcher = new ImageBatcher("demo", demo.Models, new ImageBatchOptions { MaxBatchSize = 4, Threads = 1 });
        var alone = demo.Slots.Select((s, i) => demo.Models.ProduceImage(s, ForceOf(i))).ToList();
        var results = await Task.WhenAll(demo.Slots.Select((s, i) => Task.Run(() => batcher.ProduceImageAsync(s, ForceOf(i), CancellationToken.None))));
        for (int i = 0; i < results.Length; i++) AssertSameImage(alone[i], results[i], $"request {i}");
        // Encoded once, on first read.
        Assert.Same(results[0].Png, results[0].Png);
        Assert.Equal(demo.Models.Config.ImageSize, results[0].Size);
    }

    [Fact]
    public void Constructor_NegativeThreads_Throws()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new ImageBatcher("demo", demo.Models, new ImageBatchOptions { Threads = -1 }));
        Assert.Contains("Threads", e.Message);
    }

    [Fact]
    public async Task EncodeImageAsync_ConcurrentWithACorruptFile_EveryOtherGetsItsOwnTokens()
    {
        using var batcher = new ImageBatcher("demo", demo.Models, new ImageBatchOptions());
        var alone = demo.Images.Select(demo.Models.EncodeRgb).ToList();
        var pngs = demo.Images.Select(rgb => ImageCodec.EncodePng(rgb, demo.Models.Config.ImageSize, demo.Models.Config.ImageSize)).ToList();

        var tasks = pngs.Select(png => Task.Run(() => batcher.EncodeImageAsync(png, "x.png", CancellationToken.None))).ToList();
        Assert.Throws<ImageDecodeException>(() => { _ = batcher.EncodeImageAsync("not an image"u8.ToArray(), "bad.png", CancellationToken.None); });
        var results = await Task.WhenAll(tasks);
        for (int i = 0; i < results.Length; i++)
        {
            var diff = alone[i].Data.Zip(results[i].Data).Max(p => Math.Abs(p.First - p.Second));
            Assert.True(diff < 1e-4f, $"image {i}: max |batched - alone| {diff}");
        }
    }
}
