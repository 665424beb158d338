using System.Text.Json;
using Xunit.Abstractions;

namespace Platform.Browser.Tests;

[Collection(PlatformCollection.Name)]
public sealed class LayoutTests(PlatformFixture platform, ITestOutputHelper output)
{
    [Fact]
    public async Task ChatAndBatches_AtDesktopAnd375Pixels_FitTheWidth_AndScreenshotsAreSaved()
    {
        await using var session = await platform.OpenAsync(output, 1280, 800);
        var page = session.Page;
        var chat = new ChatPage(page);
        await chat.UseModelAsync("demo");
        await chat.SendAsync("draw a large red circle at the middle center.");
        await chat.WaitUntilIdleAsync();
        await chat.SendAsync("draw a small yellow square at the bottom right.");
        await chat.WaitUntilIdleAsync();
        await session.ScreenshotAsync("chat-desktop");
        Assert.True(await FitsAsync(page), "no horizontal scrolling at 1280 px");

        await page.SetViewportSizeAsync(375, 812);
        await session.ScreenshotAsync("chat-375");
        Assert.True(await FitsAsync(page), "no horizontal scrolling at 375 px");
        Assert.True(await page.GetByLabel("Message", new() { Exact = true }).IsVisibleAsync());
        Assert.True(await page.GetByRole(AriaRole.Button, new() { Name = "Send" }).IsVisibleAsync());

        await page.GetByRole(AriaRole.Tab, new() { Name = "Batches" }).ClickAsync();
        await session.ScreenshotAsync("batches-375");
        Assert.True(await FitsAsync(page), "no horizontal scrolling on the batches view at 375 px");
        foreach (var name in new[] { "chat-desktop", "chat-375", "batches-375" })
            Assert.True(new FileInfo(Path.Combine(platform.ArtifactsDirectory, name + ".png")).Length > 1000);
        output.WriteLine($"screenshots in {platform.ArtifactsDirectory}");
        session.AssertClean();
    }

    [Fact]
    public async Task Controls_AllHaveAccessibleNames()
    {
        await using var session = await platform.OpenAsync(output);
        // Every visible or tab-reachable form control and button names itself (label, aria-label or text).
        var unnamed = await session.Page.EvaluateAsync<string[]>("""
            () => [...document.querySelectorAll('button, select, textarea, input')]
              .filter(e => !(e.labels?.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
              .map(e => e.outerHTML.slice(0, 80))
            """);
        Assert.Empty(unnamed);
    }

    [Fact]
    public async Task JudgeTab_IsShownOnlyWhenAModelWithTheJudgeCapabilityIsServed()
    {
        var models = JsonDocument.Parse(await platform.Http.GetStringAsync("/v1/models")).RootElement.GetProperty("data");
        var judges = models.EnumerateArray().Count(m => m.TryGetProperty("capabilities", out var c) &&
                                                        c.EnumerateArray().Any(x => x.GetString() == "judge"));
        await using var session = await platform.OpenAsync(output);
        var tab = session.Page.GetByRole(AriaRole.Tab, new() { Name = "Judge" });
        Assert.Equal(judges > 0, await tab.IsVisibleAsync());
        if (judges == 0) Assert.True(await session.Page.Locator("#view-judge").IsHiddenAsync());
        session.AssertClean();
    }

    private static Task<bool> FitsAsync(IPage page) =>
        page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth + 1");
}
