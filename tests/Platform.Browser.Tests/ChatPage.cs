namespace Platform.Browser.Tests;

/// <summary>The chat view as a user works it: by its labels and keys.</summary>
public sealed class ChatPage(IPage page)
{
    public ILocator Prompt => page.GetByLabel("Message", new() { Exact = true });
    public ILocator Answers => page.Locator("article.message.assistant");
    public ILocator LastAnswer => Answers.Last;

    public async Task UseModelAsync(string model, int? maxTokens = null, bool ignoreEos = false)
    {
        var settings = page.Locator("#chat-settings");
        if (await settings.GetAttributeAsync("open") is null) await settings.Locator("summary").ClickAsync();
        await settings.GetByLabel("Model").SelectOptionAsync(model);
        if (maxTokens is { } n) await settings.GetByLabel("Max tokens", new() { Exact = true }).FillAsync(n.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await settings.GetByLabel("Generate until max tokens (ignore end token)").SetCheckedAsync(ignoreEos);
    }

    /// <summary>Types at the end of the prompt and presses Enter (the composer sends on Enter).</summary>
    public async Task SendAsync(string text)
    {
        await Prompt.FocusAsync();
        await page.Keyboard.PressAsync("End");
        await page.Keyboard.TypeAsync(text);
        await page.Keyboard.PressAsync("Enter");
    }

    /// <summary>Waits until no answer streams any more (the Send button is back).</summary>
    public async Task WaitUntilIdleAsync(float timeoutMs = 60_000)
    {
        await page.Locator("#send:not([hidden])").WaitForAsync(new() { Timeout = timeoutMs });
        await page.Locator("article.message.assistant[aria-busy]").WaitForAsync(new() { State = WaitForSelectorState.Detached, Timeout = timeoutMs });
    }
}
