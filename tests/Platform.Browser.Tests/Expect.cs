namespace Platform.Browser.Tests;

public static class Expect
{
    /// <summary>Waits until the locator is visible; fails the test naming it otherwise.</summary>
    public static async Task VisibleAsync(ILocator locator, float timeoutMs = 30_000)
    {
        try
        {
            await locator.WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Visible, Timeout = timeoutMs });
        }
        catch (PlaywrightException)
        {
            Assert.Fail($"Not visible within {timeoutMs} ms: {locator}");
        }
    }
}
