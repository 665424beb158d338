using ImageGen;
using TextLlm;
using Judge;
using System.Diagnostics;
using Gateway;
using Gateway.Batch;
using Platform.Batch;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Platform.ServiceDefaults.Bus;

namespace AllInOne.Hosting;

/// <summary>
/// The all-in-one host as its Program.cs composes it (gateway and workers), started on a free 127.0.0.1 port with the given
/// settings and awaited until /health answers; shared by the gateway, multimodal and batch benchmarks and the demo
/// family's evaluation (Platform.Train eval), which measure what users get. The Files and Batch APIs only when asked.
/// </summary>
public sealed class InProcessGateway : IAsyncDisposable
{
    private readonly WebApplication _app;

    private InProcessGateway(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    public Uri Address { get; }

    /// <summary>The host's services (a benchmark calls the worker's own engine through EngineHost).</summary>
    public IServiceProvider Services => _app.Services;

    public static async Task<InProcessGateway> StartAsync(IDictionary<string, string?> settings, bool withBatchApi = false)
    {
        var root = Path.Combine(Path.GetTempPath(), "inprocess-gateway-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(root); // a content root without appsettings.json: only these settings apply
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = root, EnvironmentName = "Production" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(settings) { ["Logging:LogLevel:Default"] = "Warning" });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.AddGateway();
        builder.AddTextLlmWorker();   // all-in-one, as services/AllInOne composes it
        builder.AddImageGenWorker();
        builder.AddJudgeWorker(requireModels: false);
        if (withBatchApi) builder.AddGatewayBatch();
        builder.AddPlatformBus();
        var app = builder.Build();
        app.MapGateway();
        if (withBatchApi) app.MapBatchApi();
        await app.StartAsync();
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        using var http = new HttpClient { BaseAddress = address };
        var deadline = Stopwatch.StartNew();
        while (!(await http.GetAsync("/health")).IsSuccessStatusCode)
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException("The gateway did not become healthy.");
            await Task.Delay(50);
        }
        return new InProcessGateway(app, address);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
