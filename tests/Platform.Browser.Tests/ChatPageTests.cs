using System.Text.Json;
using System.Text.Json.Nodes;
using Platform.Multimodal.Imaging;
using Platform.Multimodal.World;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit.Abstractions;

namespace Platform.Browser.Tests;

[Collection(PlatformCollection.Name)]
public sealed class ChatPageTests(PlatformFixture platform, ITestOutputHelper output)
{
    /// <summary>Records, from the page's DOM, every text an answer's markdown was re-rendered with and when an
    /// output image was added, in order (MutationObserver records keep the nodes each render added).</summary>
    private const string RecordRenders = """
        () => {
          window.__renders = [];
          new MutationObserver(records => {
            for (const r of records) for (const n of r.addedNodes) {
              if (n.nodeType !== 1) continue;
              if (n.matches('figure.output')) window.__renders.push({ kind: 'image', length: 0 });
              else if (r.target.closest && r.target.closest('article.assistant .md'))
                window.__renders.push({ kind: 'text', length: r.target.textContent.length });
            }
          }).observe(document.getElementById('messages'), { childList: true, subtree: true });
        }
        """;

    private sealed record Render(string Kind, int Length);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    [Fact]
    public async Task DrawingRequest_StreamsTextInPieces_ThenAnImageOfTheAskedColourAtTheAskedPlace()
    {
        await using var session = await platform.OpenAsync(output);
        var chat = new ChatPage(session.Page);
        await chat.UseModelAsync("demo");
        await session.Page.EvaluateAsync(RecordRenders);

        await chat.SendAsync("draw a large red circle at the middle center.");
        await chat.WaitUntilIdleAsync();

        var renders = JsonSerializer.Deserialize<Render[]>(await session.Page.EvaluateAsync<string>("() => JSON.stringify(window.__renders)"), Json)!;
        output.WriteLine(string.Join(", ", renders.Select(r => $"{r.Kind}:{r.Length}")));
        var firstImage = Array.FindIndex(renders, r => r.Kind == "image");
        Assert.True(firstImage > 0, "an image was added after the text");
        var textBefore = renders[..firstImage].Where(r => r.Kind == "text" && r.Length > 0).Select(r => r.Length).Distinct().ToList();
        Assert.True(textBefore.Count >= 2, $"the text arrived in pieces before the image (lengths {string.Join(",", textBefore)})");
        Assert.Equal(textBefore.Order().ToList(), textBefore);

        var figure = chat.LastAnswer.Locator("figure.output").First;
        var badge = (await figure.Locator(".badge").InnerTextAsync()).Trim();
        Assert.Contains(badge, new[] { "generated", "retrieved" });
        var pixels = await ImagePixels.ReadAsync(figure.Locator("img"));
        var (share, colour, x, y) = pixels.Foreground();
        output.WriteLine($"{pixels.Width}x{pixels.Height} {badge}: object {share:P0} {colour} at ({x:0.00}, {y:0.00})");
        Assert.Equal("red", colour);
        Assert.InRange(share, 0.04, 0.6);
        Assert.InRange(x, 1 / 3.0, 2 / 3.0);
        Assert.InRange(y, 1 / 3.0, 2 / 3.0);

        // The download link gives the same PNG.
        var download = await session.Page.RunAndWaitForDownloadAsync(() => figure.GetByText("Download").ClickAsync());
        var saved = Path.Combine(platform.ArtifactsDirectory, "generated-" + download.SuggestedFilename);
        await download.SaveAsAsync(saved);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], (await File.ReadAllBytesAsync(saved))[..4]);
        session.AssertClean();
    }

    [Fact]
    public async Task ImageAttachedByFilePicker_GetsACaptionNamingItsColourAndShape()
    {
        var yellow = Array.IndexOf(Palette.Names, "yellow");
        var scene = new Scene([new SceneObject(yellow, Shape.Square, ObjectSize.Large, 1, 1)]);
        Assert.False(scene.IsHeldOut);
        var file = Path.Combine(platform.ArtifactsDirectory, "attached-yellow-square.png");
        await File.WriteAllBytesAsync(file, ImageCodec.EncodePng(SceneRenderer.Render(scene), SceneRenderer.Size, SceneRenderer.Size));

        await using var session = await platform.OpenAsync(output);
        var chat = new ChatPage(session.Page);
        await chat.UseModelAsync("demo");
        await session.Page.GetByLabel("Attach images").SetInputFilesAsync(file);
        await Expect.VisibleAsync(session.Page.GetByRole(AriaRole.Img, new() { Name = "Attached image 1" }));
        await chat.SendAsync("describe the image.");
        await chat.WaitUntilIdleAsync();

        Assert.Equal(1, await session.Page.Locator("article.message.user img.sent").CountAsync());
        var caption = (await chat.LastAnswer.Locator(".body").InnerTextAsync()).ToLowerInvariant();
        output.WriteLine(caption);
        Assert.Contains("yellow", caption);
        Assert.Contains("square", caption);
        session.AssertClean();
    }

    [Fact]
    public async Task Escape_DuringALongAnswer_StopsIt_AndTheRunningGaugeReturnsToZero()
    {
        await using var session = await platform.OpenAsync(output);
        var chat = new ChatPage(session.Page);
        await chat.UseModelAsync(PlatformFixture.LongModel, maxTokens: 130_000, ignoreEos: true);
        await chat.SendAsync("hello");

        // Text is arriving and the gateway counts the request as running.
        await session.Page.WaitForFunctionAsync("() => document.querySelector('article.assistant[aria-busy] .md')?.textContent.length > 0");
        Assert.Equal(1, await platform.RunningRequestsAsync(PlatformFixture.LongModel));
        await session.Page.Keyboard.PressAsync("Escape");

        await chat.WaitUntilIdleAsync(10_000);
        await Expect.VisibleAsync(chat.LastAnswer.GetByText("Stopped."));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (await platform.RunningRequestsAsync(PlatformFixture.LongModel) != 0 && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.Equal(0, await platform.RunningRequestsAsync(PlatformFixture.LongModel));
        session.AssertClean();
    }

    [Fact]
    public async Task OversizedImage_ShowsTheApiErrorMessage()
    {
        // Random pixels do not compress: a 1800x1800 PNG is over the gateway's 8 MiB image limit (Gateway:MaxImageBytes).
        var pixels = new byte[1800 * 1800 * 3];
        new Random(7).NextBytes(pixels);
        using var image = Image.LoadPixelData<Rgb24>(pixels, 1800, 1800);
        var file = Path.Combine(Path.GetTempPath(), $"oversized-{Guid.NewGuid():N}.png");
        await image.SaveAsPngAsync(file);
        try
        {
            // The message the API itself gives for this image.
            var body = new JsonObject
            {
                ["model"] = "demo",
                ["messages"] = new JsonArray(new JsonObject
                {
                    ["role"] = "user",
                    ["content"] = new JsonArray(
                        new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = "data:image/png;base64," + Convert.ToBase64String(await File.ReadAllBytesAsync(file)) } },
                        new JsonObject { ["type"] = "text", ["text"] = "describe the image." }),
                }),
            };
            using var direct = await platform.Http.PostAsync("/v1/chat/completions", new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(400, (int)direct.StatusCode);
            var apiMessage = JsonDocument.Parse(await direct.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("message").GetString()!;

            await using var session = await platform.OpenAsync(output);
            var chat = new ChatPage(session.Page);
            await chat.UseModelAsync("demo");
            await session.Page.GetByLabel("Attach images").SetInputFilesAsync(file);
            await chat.SendAsync("describe the image.");
            await chat.WaitUntilIdleAsync();

            var alert = chat.LastAnswer.GetByRole(AriaRole.Alert);
            var shown = await alert.InnerTextAsync();
            output.WriteLine(shown);
            Assert.Contains(apiMessage, shown);
            Assert.Contains("HTTP 400", shown);
            Assert.Empty(session.ScriptErrors);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Composer_ShiftEnterAddsALine_EnterSends_AndTheConversationIsListedAndKept()
    {
        await using var session = await platform.OpenAsync(output);
        var chat = new ChatPage(session.Page);
        await chat.UseModelAsync("demo");
        await chat.Prompt.FocusAsync();
        await session.Page.Keyboard.TypeAsync("draw a small blue triangle");
        await session.Page.Keyboard.PressAsync("Shift+Enter");
        Assert.Equal(0, await chat.Answers.CountAsync());
        Assert.Equal("draw a small blue triangle\n", await chat.Prompt.InputValueAsync());
        await session.Page.Keyboard.PressAsync("Backspace");
        await chat.SendAsync(" at the top left.");
        await chat.WaitUntilIdleAsync();
        Assert.Equal(1, await chat.Answers.CountAsync());
        Assert.Equal("", await chat.Prompt.InputValueAsync());

        // Listed, and still there after a reload (localStorage).
        var listed = session.Page.Locator("#conversation-list button.conversation");
        Assert.Equal("draw a small blue triangle at the top left.", (await listed.First.InnerTextAsync()).Trim());
        await session.Page.ReloadAsync();
        await session.Page.WaitForSelectorAsync("body[data-ready=true]");
        Assert.Equal(1, await chat.Answers.CountAsync());

        // Regenerate replaces the answer; edit puts the message back in the composer.
        await chat.LastAnswer.GetByRole(AriaRole.Button, new() { Name = "Regenerate" }).ClickAsync();
        await chat.WaitUntilIdleAsync();
        Assert.Equal(1, await chat.Answers.CountAsync());
        await session.Page.Locator("article.message.user").GetByRole(AriaRole.Button, new() { Name = "Edit" }).ClickAsync();
        Assert.Equal("draw a small blue triangle at the top left.", await chat.Prompt.InputValueAsync());
        Assert.Equal(0, await chat.Answers.CountAsync());
        session.AssertClean();
    }
}
