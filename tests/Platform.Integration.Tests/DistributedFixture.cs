using System.Text.Json.Nodes;

namespace Platform.Integration.Tests;

/// <summary>
/// What every distributed fixture does around its own processes: nothing when no broker listens (each test then
/// reports skip or failure through <see cref="RabbitMqBroker.Require"/>), the bus settings every process gets, the
/// processes' lifetimes and logs, waiting until each is healthy and the gateway lists the fixture's models, and a
/// temporary folder removed at the end.
/// </summary>
public abstract class DistributedFixture : IAsyncLifetime
{
    private readonly List<ServiceProcess> _processes = [];

    /// <summary>A temporary folder of the fixture's own (created on first use of a path below it by the fixture).</summary>
    protected string Folder { get; } = Path.Combine(Path.GetTempPath(), "platform-it-" + Guid.NewGuid().ToString("N")[..8]);

    public ServiceProcess Gateway { get; private set; } = null!;

    /// <summary>True once every process is healthy and the gateway lists <see cref="ModelsToWaitFor"/>.</summary>
    public bool Started { get; private set; }

    /// <summary>The settings every process gets: RabbitMQ on the test broker, warnings and worse logged.</summary>
    protected static Dictionary<string, string> BusSettings() => new()
    {
        ["Bus__Transport"] = "RabbitMq",
        ["Bus__RabbitMq__Host"] = RabbitMqBroker.Host,
        ["Bus__RabbitMq__Port"] = RabbitMqBroker.Port.ToString(),
        ["Logging__LogLevel__Default"] = "Warning",
    };

    /// <summary>The model names the gateway must list before the tests run.</summary>
    protected abstract IEnumerable<string> ModelsToWaitFor { get; }

    /// <summary>Starts the fixture's processes (each through <see cref="Track"/>) and returns the gateway among them.</summary>
    protected abstract Task<ServiceProcess> StartProcessesAsync();

    protected ServiceProcess Track(ServiceProcess p)
    {
        _processes.Add(p);
        return p;
    }

    public async Task InitializeAsync()
    {
        try { RabbitMqBroker.Require(); }
        catch (Exception) { return; }
        Gateway = await StartProcessesAsync();
        var timeout = TimeSpan.FromSeconds(120);
        foreach (var p in _processes) await p.WaitHealthyAsync(timeout);
        using var deadline = new CancellationTokenSource(timeout);
        var wanted = ModelsToWaitFor.ToList();
        while (true)
        {
            var ids = JsonNode.Parse(await Gateway.Http.GetStringAsync("/v1/models", deadline.Token))!["data"]!.AsArray()
                .Select(m => m!["id"]!.GetValue<string>()).ToHashSet();
            if (wanted.All(ids.Contains)) break;
            await Task.Delay(100, deadline.Token);
        }
        Started = true;
    }

    /// <summary>Every process's log, for assertion messages.</summary>
    public string Logs() => string.Join("\n", _processes.Select(p => $"--- {p.Name}\n{p.Log}"));

    public async Task DisposeAsync()
    {
        foreach (var p in _processes) await p.DisposeAsync();
        try { if (Directory.Exists(Folder)) Directory.Delete(Folder, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
