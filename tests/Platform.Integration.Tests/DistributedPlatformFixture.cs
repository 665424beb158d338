using System.Text.Json.Nodes;
using Platform.Inference.Models;

namespace Platform.Integration.Tests;

/// <summary>
/// The distributed mode as separate OS processes on RabbitMQ: one gateway (HostWorkers=false), two TextLlm
/// workers sharing one model's queue (one engine slot each, so concurrent requests must spread), and a third
/// worker serving a second model alone, for the fault test. Model names are unique per run so queues left on a
/// shared broker never mix runs.
/// </summary>
public sealed class DistributedPlatformFixture : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "platform-it-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly List<ServiceProcess> _processes = [];

    public string Model { get; } = "it-" + Guid.NewGuid().ToString("N")[..8];
    public string VictimModel { get; } = "it-victim-" + Guid.NewGuid().ToString("N")[..8];
    public ServiceProcess Gateway { get; private set; } = null!;
    public ServiceProcess WorkerA { get; private set; } = null!;
    public ServiceProcess WorkerB { get; private set; } = null!;
    public ServiceProcess Victim { get; private set; } = null!;
    public bool Started { get; private set; }

    public async Task InitializeAsync()
    {
        if (!IsBrokerUp()) return; // each test reports skip or failure through RabbitMqBroker.Require()
        // Larger than the unit-test model so a few hundred tokens take long enough to observe a stream in flight.
        var config = TinyModelFactory.TinyConfig() with { HiddenSize = 128, IntermediateSize = 256, NumHiddenLayers = 4 };
        var modelFolder = TinyModelFactory.Create(Path.Combine(_folder, "model"), config);

        var bus = new Dictionary<string, string>
        {
            ["Bus__Transport"] = "RabbitMq",
            ["Bus__RabbitMq__Host"] = RabbitMqBroker.Host,
            ["Bus__RabbitMq__Port"] = RabbitMqBroker.Port.ToString(),
            ["Logging__LogLevel__Default"] = "Warning",
        };
        Dictionary<string, string> Worker(string id, string model) => new(bus)
        {
            [$"Models__{model}__Path"] = modelFolder,
            [$"Models__{model}__Engine__MaxConcurrentSequences"] = "1",
            [$"Models__{model}__Engine__Threads"] = "1",
            ["TextLlm__Models__0"] = model,
            ["TextLlm__InstanceId"] = id,
            ["TextLlm__HeartbeatIntervalMs"] = "300",
            ["TextLlm__AnnounceIntervalSeconds"] = "2",
        };

        Gateway = Track(ServiceProcess.Start("gateway", "GatewayDll", new Dictionary<string, string>(bus)
        {
            ["Gateway__HostWorkers"] = "false",
            ["ChatClient__StreamIdleTimeoutSeconds"] = "3",
            ["ChatClient__QueueTimeoutSeconds"] = "60",
        }));
        WorkerA = Track(ServiceProcess.Start("textllm-a", "TextLlmDll", Worker("textllm-a", Model)));
        WorkerB = Track(ServiceProcess.Start("textllm-b", "TextLlmDll", Worker("textllm-b", Model)));
        Victim = Track(ServiceProcess.Start("textllm-victim", "TextLlmDll", Worker("textllm-victim", VictimModel)));

        var timeout = TimeSpan.FromSeconds(120);
        foreach (var p in _processes) await p.WaitHealthyAsync(timeout);
        await WaitForModelsAsync(timeout);
        Started = true;
    }

    private ServiceProcess Track(ServiceProcess p)
    {
        _processes.Add(p);
        return p;
    }

    private async Task WaitForModelsAsync(TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        while (true)
        {
            var ids = JsonNode.Parse(await Gateway.Http.GetStringAsync("/v1/models", deadline.Token))!["data"]!.AsArray()
                .Select(m => m!["id"]!.GetValue<string>()).ToHashSet();
            if (ids.Contains(Model) && ids.Contains(VictimModel)) return;
            await Task.Delay(100, deadline.Token);
        }
    }

    private static bool IsBrokerUp()
    {
        try
        {
            RabbitMqBroker.Require();
            return true;
        }
        catch (Exception)
        {
            return false;
        }
    }

    public string Logs() => string.Join("\n", _processes.Select(p => $"--- {p.Name}\n{p.Log}"));

    public async Task DisposeAsync()
    {
        foreach (var p in _processes) await p.DisposeAsync();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
