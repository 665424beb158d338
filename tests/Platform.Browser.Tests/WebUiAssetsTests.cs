using System.Net;
using System.Text.RegularExpressions;

namespace Platform.Browser.Tests;

/// <summary>What the gateway serves for the UI, over plain HTTP: the page, every module it imports (followed
/// transitively), the vendored libraries' licences, and a 404 for anything else.</summary>
[Collection(PlatformCollection.Name)]
public sealed partial class WebUiAssetsTests(PlatformFixture platform)
{
    [Fact]
    public async Task Root_ServesThePage_WithASameOriginContentSecurityPolicy()
    {
        using var response = await platform.Http.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var csp = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'self'", csp);
        Assert.Contains("script-src 'self'", csp);
    }

    [Fact]
    public async Task EveryModuleThePageImports_IsServedAsJavaScript()
    {
        var html = await platform.Http.GetStringAsync("/");
        var pending = new Queue<Uri>(AssetReference().Matches(html).Select(m => new Uri(platform.Address, m.Groups["path"].Value)));
        var seen = new HashSet<Uri>();
        while (pending.TryDequeue(out var url))
        {
            if (!seen.Add(url)) continue;
            using var response = await platform.Http.GetAsync(url);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{url}: {(int)response.StatusCode}");
            if (!url.AbsolutePath.EndsWith("js", StringComparison.Ordinal)) continue;
            Assert.Equal("text/javascript", response.Content.Headers.ContentType?.MediaType);
            foreach (Match m in ImportStatement().Matches(await response.Content.ReadAsStringAsync()))
                pending.Enqueue(new Uri(url, m.Groups["path"].Value));
        }
        Assert.Contains(seen, u => u.AbsolutePath.EndsWith("/vendor/marked/marked.esm.js", StringComparison.Ordinal));
        Assert.Contains(seen, u => u.AbsolutePath.EndsWith("/vendor/dompurify/dompurify.mjs", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("/ui/vendor/marked/LICENSE")]
    [InlineData("/ui/vendor/dompurify/LICENSE")]
    public async Task VendoredLibraries_ShipTheirLicences(string path)
    {
        var text = await platform.Http.GetStringAsync(path);
        Assert.True(text.Length > 500);
    }

    [Fact]
    public async Task UnknownAsset_Is404()
    {
        using var response = await platform.Http.GetAsync("/ui/js/nothing-here.js");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [GeneratedRegex("(?:src|href)=\"(?<path>ui/[^\"]+)\"")]
    private static partial Regex AssetReference();

    [GeneratedRegex("""^\s*import\s[^'"]*['"](?<path>\.[^'"]+)['"]""", RegexOptions.Multiline)]
    private static partial Regex ImportStatement();
}
