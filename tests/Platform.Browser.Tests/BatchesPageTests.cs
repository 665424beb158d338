using System.Text.Json;
using Xunit.Abstractions;

namespace Platform.Browser.Tests;

[Collection(PlatformCollection.Name)]
public sealed class BatchesPageTests(PlatformFixture platform, ITestOutputHelper output)
{
    [Fact]
    public async Task BatchOfAFewPrompts_ReachesHundredPercent_AndItsOutputDownloads()
    {
        string[] prompts = ["draw a small blue triangle at the top left.", "draw a large green square at the bottom right.", "hello"];
        await using var session = await platform.OpenAsync(output);
        var page = session.Page;
        await page.GetByRole(AriaRole.Tab, new() { Name = "Batches" }).ClickAsync();
        var view = page.Locator("#view-batches");
        await view.GetByLabel("Model").SelectOptionAsync("demo");
        await view.GetByLabel("Max tokens", new() { Exact = true }).FillAsync("32");
        await view.GetByLabel("Prompts, one a line").FillAsync(string.Join("\n", prompts));
        await page.GetByRole(AriaRole.Button, new() { Name = "Create batch" }).ClickAsync();
        await Expect.VisibleAsync(page.Locator("#batch-create-status", new() { HasTextString = "Created batch_" }));
        var id = (await page.Locator("#batch-create-status").InnerTextAsync()).Split(' ')[1].TrimEnd('.');

        var item = page.Locator($"li.batch[data-id='{id}']");
        await Expect.VisibleAsync(item);
        // The list polls while a batch runs: the item reaches completed with a full bar.
        await Expect.VisibleAsync(page.Locator($"li.batch[data-id='{id}'][data-status=completed]"), 120_000);
        Assert.Equal("100%", (await item.Locator(".percent").InnerTextAsync()).Trim());
        Assert.Equal("100", await item.Locator("progress").GetAttributeAsync("value"));
        Assert.Equal($"{prompts.Length} done, 0 failed of {prompts.Length}", (await item.Locator(".counts").InnerTextAsync()).Trim());
        await session.ScreenshotAsync("batches-desktop");

        var download = await page.RunAndWaitForDownloadAsync(() => item.GetByText("Download output").ClickAsync());
        var saved = Path.Combine(platform.ArtifactsDirectory, download.SuggestedFilename);
        await download.SaveAsAsync(saved);
        var lines = (await File.ReadAllLinesAsync(saved)).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(Enumerable.Range(1, prompts.Length).Select(i => $"prompt-{i}").Order(),
            lines.Select(l => l.GetProperty("custom_id").GetString()!).Order());
        foreach (var line in lines)
        {
            Assert.Equal(200, line.GetProperty("response").GetProperty("status_code").GetInt32());
            Assert.Equal("demo", line.GetProperty("response").GetProperty("body").GetProperty("model").GetString());
        }
        session.AssertClean();
    }
}
