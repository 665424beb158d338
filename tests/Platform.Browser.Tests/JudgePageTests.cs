using System.Text.Json;
using Platform.Multimodal.World;
using Xunit.Abstractions;

namespace Platform.Browser.Tests;

/// <summary>
/// The judge view against the judge API, with the demo judge the all-in-one host serves by default (a text judge of
/// drawing requests: which answer names the requested object right).
/// </summary>
[Collection(PlatformCollection.Name)]
public sealed class JudgePageTests(PlatformFixture platform, ITestOutputHelper output)
{
    [Fact]
    public async Task SetMode_GivesTheSameVerdictAfterTheTwoAnswersAreSwapped()
    {
        var models = JsonDocument.Parse(await platform.Http.GetStringAsync("/v1/models")).RootElement.GetProperty("data");
        var judge = models.EnumerateArray().FirstOrDefault(m => m.TryGetProperty("capabilities", out var c) &&
                                                              c.EnumerateArray().Any(x => x.GetString() == "judge"));
        Assert.True(judge.ValueKind == JsonValueKind.Object, "a model with the judge capability is served");

        var red = Array.IndexOf(Palette.Names, "red");
        var scene = new Scene([new SceneObject(red, Shape.Circle, ObjectSize.Large, 1, 1)]);
        var right = scene.Caption();
        var wrong = right.Replace("red", "blue", StringComparison.Ordinal);

        await using var session = await platform.OpenAsync(output);
        var page = session.Page;
        await page.GetByRole(AriaRole.Tab, new() { Name = "Judge" }).ClickAsync();
        await page.Locator("#judge-model").SelectOptionAsync(judge.GetProperty("id").GetString()!);
        await page.GetByLabel("set (order cannot matter)").CheckAsync();
        await page.Locator("#compare-prompt").FillAsync($"draw {right}.");
        await page.GetByLabel("Answer A").FillAsync(right);
        await page.GetByLabel("Answer B").FillAsync(wrong);

        var first = await VerdictAsync(page);
        await page.GetByRole(AriaRole.Button, new() { Name = "Swap answers" }).ClickAsync();
        Assert.Equal(wrong, await page.GetByLabel("Answer A").InputValueAsync());
        var second = await VerdictAsync(page);
        output.WriteLine($"{first} then {second}");

        Assert.NotEqual("none", first);
        // The same answer wins (its letter moved with it), or both are ties.
        Assert.Equal(first switch { "a" => "b", "b" => "a", _ => first }, second);
        await session.ScreenshotAsync("judge-desktop");
        session.AssertClean();
    }

    private static async Task<string> VerdictAsync(IPage page)
    {
        await page.Locator("#compare-result").EvaluateAsync("e => e.replaceChildren()");
        await page.GetByRole(AriaRole.Button, new() { Name = "Compare", Exact = true }).ClickAsync();
        var verdict = page.Locator("#compare-result .verdict");
        await Expect.VisibleAsync(verdict, 120_000);
        return (await verdict.GetAttributeAsync("data-winner"))!;
    }
}
