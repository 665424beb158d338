using Xunit.Abstractions;

namespace Platform.Browser.Tests;

/// <summary>
/// The web UI on a gateway that requires API keys: the page asks for a key, and with it lists the models, streams an
/// answer and shows the generated picture (fetched with the key: an &lt;img&gt; cannot send one).
/// </summary>
[Collection(KeyedPlatformCollection.Name)]
public sealed class ApiKeyPageTests(KeyedPlatformFixture platform, ITestOutputHelper output)
{
    [Fact]
    public async Task KeyedGateway_KeyEntered_ChatDrawsAndTheImageLoads()
    {
        await using var session = await platform.OpenAsync(output, waitForModels: false);
        var page = session.Page;
        var alert = page.Locator("#global-error");
        await alert.WaitForAsync();
        Assert.Contains("needs an API key", await alert.InnerTextAsync());
        Assert.Contains("missing_api_key", await alert.InnerTextAsync());

        await page.GetByLabel("API key", new() { Exact = true }).FillAsync("sk-not-a-key");
        await page.GetByRole(AriaRole.Button, new() { Name = "Use key" }).ClickAsync();
        await page.Locator("#global-error:has-text('invalid_api_key')").WaitForAsync();

        // A wrong key opens the key panel again, with the gateway's answer in the alert.
        Assert.NotNull(await page.Locator("#api-key-panel").GetAttributeAsync("open"));
        await page.GetByLabel("API key", new() { Exact = true }).FillAsync(platform.ApiKey);
        await page.GetByRole(AriaRole.Button, new() { Name = "Use key" }).ClickAsync();
        await page.WaitForSelectorAsync("body[data-ready=true]");
        Assert.True(await alert.IsHiddenAsync(), "the key error is cleared once the models load");

        var chat = new ChatPage(page);
        await chat.UseModelAsync("demo");
        await chat.SendAsync("draw a large red circle at the middle center.");
        await chat.WaitUntilIdleAsync();
        var img = chat.LastAnswer.Locator("figure.output img").First;
        var pixels = await ImagePixels.ReadAsync(img);
        var (_, colour, _, _) = pixels.Foreground();
        Assert.Equal("red", colour);
        Assert.StartsWith("blob:", await img.GetAttributeAsync("src"));
        session.AssertClean();
    }
}
