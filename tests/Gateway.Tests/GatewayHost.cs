using ImageGen;
using TextLlm;
using Judge;
using MoeAdapter;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Platform.Inference.Models;
using Platform.ServiceDefaults.Bus;

namespace Gateway.Tests;

/// <summary>
/// The gateway exactly as Program.cs composes it (AddGateway, AddPlatformBus, MapGateway), all-in-one on the
/// in-memory bus, on real Kestrel at 127.0.0.1 with a free port, serving a tiny random model the test writes.
/// </summary>
public sealed class GatewayHost : IAsyncDisposable
{
    public const string Model = "tiny";
    private readonly string _folder;

    private GatewayHost(WebApplication app, string folder, Uri address)
    {
        App = app;
        _folder = folder;
        Address = address;
        Http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public WebApplication App { get; }
    public Uri Address { get; }
    public HttpClient Http { get; }

    public static async Task<GatewayHost> StartAsync(IDictionary<string, string?>? settings = null,
        Action<IServiceCollection>? configureServices = null, LlamaConfig? modelConfig = null, bool batch = false,
        Action<WebApplication>? configureApp = null)
    {
        var folder = Path.Combine(Path.GetTempPath(), "gateway-tests-" + Guid.NewGuid().ToString("N"));
        var modelFolder = TinyModelFactory.Create(Path.Combine(folder, "model"), modelConfig ?? TinyModelFactory.TinyConfig());
        // A content root without appsettings.json so only the settings below apply.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing", ContentRootPath = folder });
        var config = new Dictionary<string, string?>
        {
            [$"Models:{Model}:Path"] = modelFolder,
            [$"Models:{Model}:Engine:MaxConcurrentSequences"] = "4",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string?>()) config[k] = v;
        builder.Configuration.AddInMemoryCollection(config);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.AddGateway();
        builder.AddTextLlmWorker();   // all-in-one, as services/AllInOne composes it
        builder.AddImageGenWorker();
        builder.AddJudgeWorker(requireModels: false);
        builder.AddMoeAdapterWorker(requireModels: false);
        if (batch) Gateway.Batch.GatewayBatchExtensions.AddGatewayBatch(builder);
        configureServices?.Invoke(builder.Services);
        builder.AddPlatformBus();
        var app = builder.Build();
        app.MapGateway();
        if (batch) Platform.Batch.BatchApiExtensions.MapBatchApi(app);
        configureApp?.Invoke(app);
        await app.StartAsync();
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        var host = new GatewayHost(app, folder, address);
        await host.WaitReadyAsync();
        return host;
    }

    /// <summary>Polls /health until the worker announced its model (bounded).</summary>
    private async Task WaitReadyAsync()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            var response = await Http.GetAsync("/health", deadline.Token);
            if (response.IsSuccessStatusCode) return;
            await Task.Delay(50, deadline.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>One all-in-one gateway shared by a test class.</summary>
public sealed class GatewayFixture : IAsyncLifetime
{
    public GatewayHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await GatewayHost.StartAsync(new Dictionary<string, string?>
    {
        ["Gateway:MaxRequestBodyBytes"] = "65536",
    });

    public async Task DisposeAsync() => await Host.DisposeAsync();
}
