using ImageGen;
using TextLlm;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Platform.ServiceDefaults.Bus;

namespace Gateway.Tests.Images;

/// <summary>
/// The all-in-one gateway (TextLlm and ImageGen in process, in-memory bus) serving the trained demo model family from
/// models/demo (or PLATFORM_DEMO_MODEL), with small input-image limits so the limit tests need no large files.
/// </summary>
public sealed class DemoGatewayFixture : IAsyncLifetime
{
    public const string Model = "demo";
    public const int MaxImageBytes = 64 * 1024;
    public const int MaxImagePixels = 128 * 128;

    public WebApplication App { get; private set; } = null!;
    public Uri Address { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;

    /// <summary>PLATFORM_DEMO_MODEL, else models/demo of the repository this file was compiled from (the build output
    /// may live outside the repository, e.g. with --artifacts-path).</summary>
    public static string ModelFolder([System.Runtime.CompilerServices.CallerFilePath] string sourceFile = "")
    {
        if (Environment.GetEnvironmentVariable("PLATFORM_DEMO_MODEL") is { Length: > 0 } env) return env;
        foreach (var start in new[] { Path.GetDirectoryName(sourceFile)!, AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Platform.sln"))) return Path.Combine(dir.FullName, "models", "demo");
        throw new DirectoryNotFoundException("Platform.sln not found above the test sources or output; set PLATFORM_DEMO_MODEL.");
    }

    public async Task InitializeAsync()
    {
        var folder = ModelFolder();
        if (!File.Exists(Path.Combine(folder, "multimodal.safetensors")))
            throw new FileNotFoundException($"{folder}: the demo model family is missing (train it with tools/Platform.Train all --out models/demo).");
        var root = Path.Combine(Path.GetTempPath(), "gateway-demo-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing", ContentRootPath = root });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [$"Models:{Model}:Path"] = folder,
            [$"Models:{Model}:Multimodal"] = "true",
            [$"Models:{Model}:Engine:MaxConcurrentSequences"] = "4",
            ["Gateway:MaxImageBytes"] = MaxImageBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["ImageGen:MaxImagePixels"] = MaxImagePixels.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Logging:LogLevel:Default"] = "Warning",
        });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.AddGateway();
        builder.AddTextLlmWorker();   // all-in-one, as services/AllInOne composes it
        builder.AddImageGenWorker();
        builder.AddPlatformBus();
        App = builder.Build();
        App.MapGateway();
        await App.StartAsync();
        Address = new Uri(App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        Http = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(120) };
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!(await Http.GetAsync("/health", deadline.Token)).IsSuccessStatusCode) await Task.Delay(50, deadline.Token);
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
