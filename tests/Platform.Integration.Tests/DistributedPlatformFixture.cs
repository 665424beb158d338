using Platform.Inference.Models;

namespace Platform.Integration.Tests;

/// <summary>
/// The distributed mode as separate OS processes on RabbitMQ: one gateway (HostWorkers=false), two TextLlm
/// workers sharing one model's queue (one engine slot each, so concurrent requests must spread), and a third
/// worker serving a second model alone, for the fault test. Model names are unique per run so queues left on a
/// shared broker never mix runs.
/// </summary>
public sealed class DistributedPlatformFixture : DistributedFixture
{
    public string Model { get; } = "it-" + Guid.NewGuid().ToString("N")[..8];
    public string VictimModel { get; } = "it-victim-" + Guid.NewGuid().ToString("N")[..8];
    public ServiceProcess WorkerA { get; private set; } = null!;
    public ServiceProcess WorkerB { get; private set; } = null!;
    public ServiceProcess Victim { get; private set; } = null!;

    protected override IEnumerable<string> ModelsToWaitFor => [Model, VictimModel];

    protected override Task<ServiceProcess> StartProcessesAsync()
    {
        // Larger than the unit-test model so a few hundred tokens take long enough to observe a stream in flight.
        var config = TinyModelFactory.TinyConfig() with { HiddenSize = 128, IntermediateSize = 256, NumHiddenLayers = 4, MaxPositionEmbeddings = 2048 };
        var modelFolder = TinyModelFactory.Create(Path.Combine(Folder, "model"), config);
        Dictionary<string, string> Worker(string id, string model) => new(BusSettings())
        {
            [$"Models__{model}__Path"] = modelFolder,
            [$"Models__{model}__Engine__MaxConcurrentSequences"] = "1",
            [$"Models__{model}__Engine__Threads"] = "1",
            ["TextLlm__Models__0"] = model,
            ["TextLlm__InstanceId"] = id,
            ["TextLlm__HeartbeatIntervalMs"] = "300",
            ["TextLlm__AnnounceIntervalSeconds"] = "2",
        };

        var gateway = Track(ServiceProcess.Start("gateway", "GatewayDll", new Dictionary<string, string>(BusSettings())
        {
            ["Gateway__HostWorkers"] = "false",
            ["ChatClient__StreamIdleTimeoutSeconds"] = "3",
            ["ChatClient__QueueTimeoutSeconds"] = "60",
        }));
        WorkerA = Track(ServiceProcess.Start("textllm-a", "TextLlmDll", Worker("textllm-a", Model)));
        WorkerB = Track(ServiceProcess.Start("textllm-b", "TextLlmDll", Worker("textllm-b", Model)));
        Victim = Track(ServiceProcess.Start("textllm-victim", "TextLlmDll", Worker("textllm-victim", VictimModel)));
        return Task.FromResult(gateway);
    }
}
