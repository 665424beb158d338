using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Platform.Inference.Models;
using Xunit.Abstractions;

namespace Platform.Browser.Tests;

/// <summary>
/// The real all-in-one host (services/AllInOne's Program.cs with its appsettings.json: the shipped demo models, the
/// workers in-process on the in-memory bus, the batch API on SQLite) on Kestrel at 127.0.0.1 with a free port, and
/// Debian's chromium driven by Playwright. One per test collection: the host loads the demo family once.
/// Besides the shipped models it serves "long-chat", a tiny random model with a 128k-token context that the fixture
/// writes, so a test can hold a long answer open (the shipped models' answers end within a few hundred tokens).
/// </summary>
public class PlatformFixture : IAsyncLifetime
{
    public const string LongModel = "long-chat";
    public const string ChromiumPath = "/usr/bin/chromium";

    private readonly string _root = Path.Combine(Path.GetTempPath(), "browser-tests-" + Guid.NewGuid().ToString("N")[..8]);
    // Any type of the all-in-one host's assembly names its entry point; "Program" is ambiguous here (ImageGen has one too).
    private WebApplicationFactory<AllInOne.Hosting.InProcessGateway>? _factory;

    public Uri Address { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;
    public IPlaywright Playwright { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;

    /// <summary>Where screenshots and downloads go: $PLATFORM_TEST_RESULTS/browser (scripts/test.sh sets it to its
    /// results folder), else TestResults/browser beside the test assembly.</summary>
    public string ArtifactsDirectory { get; } = Path.Combine(
        Environment.GetEnvironmentVariable("PLATFORM_TEST_RESULTS") is { Length: > 0 } r ? r : Path.Combine(AppContext.BaseDirectory, "TestResults"),
        "browser");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_root);
        Directory.CreateDirectory(ArtifactsDirectory);
        var longModel = TinyModelFactory.Create(Path.Combine(_root, LongModel), TinyModelFactory.TinyConfig() with { MaxPositionEmbeddings = 1 << 17 });
        var factory = new WebApplicationFactory<AllInOne.Hosting.InProcessGateway>().WithWebHostBuilder(b =>
        {
            b.UseEnvironment("Production");
            // UseSetting, not ConfigureAppConfiguration: the gateway reads Models and Batch while Program.cs composes
            // the host, before configuration added by the factory's callbacks would apply. None of these keys is in
            // appsettings.json, which would otherwise win.
            b.UseSetting("Batch:ConnectionString", $"Data Source={Path.Combine(_root, "batch.db")}");
            b.UseSetting("Batch:SweepIntervalSeconds", "0.5");
            b.UseSetting($"Models:{LongModel}:Path", longModel);
            b.UseSetting($"Models:{LongModel}:Engine:MaxConcurrentSequences", "2");
            foreach (var (key, value) in ExtraSettings) b.UseSetting(key, value);
            b.ConfigureAppConfiguration(c => c.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Logging:LogLevel:Default"] = "Warning",
            }));
        });
        factory.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        factory.StartServer();
        _factory = factory;
        Address = new Uri(factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        Http = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(60) };
        await PrepareClientAsync();
        await WaitForModelsAsync();

        if (!File.Exists(ChromiumPath))
            throw new InvalidOperationException($"{ChromiumPath} is missing: install Debian's chromium (apt-get install -y chromium; scripts/test.sh does).");
        Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        Browser = await Playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
    }

    /// <summary>Settings beyond the fixture's own (read while Program.cs composes the host).</summary>
    protected virtual IReadOnlyDictionary<string, string> ExtraSettings { get; } = new Dictionary<string, string>();

    /// <summary>Runs once the host listens, before the fixture waits for the models through <see cref="Http"/>.</summary>
    protected virtual Task PrepareClientAsync() => Task.CompletedTask;

    /// <summary>/health says ready once one model is announced; wait until every configured one is listed.</summary>
    private async Task WaitForModelsAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        var models = "";
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                models = await Http.GetStringAsync("/v1/models");
                if (models.Contains("\"demo\"") && models.Contains($"\"{LongModel}\"")) return;
            }
            catch (HttpRequestException) { }
            await Task.Delay(100);
        }
        throw new TimeoutException($"The host did not list demo and {LongModel} within 120 s; /v1/models: {models}");
    }

    /// <summary>A fresh browser context (own localStorage) and page at "/", with the page's script errors and any
    /// request to another origin recorded, so a test can assert the page neither broke nor left the platform.</summary>
    public async Task<PageSession> OpenAsync(ITestOutputHelper output, int width = 1280, int height = 800, bool waitForModels = true)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = width, Height = height }, AcceptDownloads = true,
        });
        var page = await context.NewPageAsync();
        var session = new PageSession(this, context, page);
        page.PageError += (_, e) => session.ScriptErrors.Add(e);
        page.Console += (_, m) => { if (m.Type is "error" or "warning") output.WriteLine($"console {m.Type}: {m.Text}"); };
        page.Request += (_, r) =>
        {
            if (!r.Url.StartsWith(Address.GetLeftPart(UriPartial.Authority), StringComparison.Ordinal) &&
                !r.Url.StartsWith("data:", StringComparison.Ordinal) && !r.Url.StartsWith("blob:", StringComparison.Ordinal))
                session.ForeignRequests.Add(r.Url);
        };
        await page.GotoAsync(Address.ToString());
        if (waitForModels) await page.WaitForSelectorAsync("body[data-ready=true]");
        return session;
    }

    /// <summary>platform_num_requests_running for a model, from the gateway's /metrics.</summary>
    public async Task<double> RunningRequestsAsync(string model)
    {
        var metrics = await Http.GetStringAsync("/metrics");
        var m = Regex.Match(metrics, $@"^platform_num_requests_running\{{model_name=""{Regex.Escape(model)}""\}} (\S+)$", RegexOptions.Multiline);
        return m.Success ? double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
    }

    public virtual async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        Playwright?.Dispose();
        Http?.Dispose();
        if (_factory is not null) await _factory.DisposeAsync();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

[CollectionDefinition(Name)]
public sealed class PlatformCollection : ICollectionFixture<PlatformFixture>
{
    public const string Name = "platform in a browser";
}

/// <summary>One page in its own browser context.</summary>
public sealed class PageSession(PlatformFixture platform, IBrowserContext context, IPage page) : IAsyncDisposable
{
    public IPage Page { get; } = page;
    public List<string> ScriptErrors { get; } = [];
    public List<string> ForeignRequests { get; } = [];

    public async Task ScreenshotAsync(string name) =>
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(platform.ArtifactsDirectory, name + ".png"), FullPage = true });

    /// <summary>Neither a script error nor a request outside the platform happened.</summary>
    public void AssertClean()
    {
        Assert.Empty(ScriptErrors);
        Assert.Empty(ForeignRequests);
    }

    public async ValueTask DisposeAsync() => await context.DisposeAsync();
}
