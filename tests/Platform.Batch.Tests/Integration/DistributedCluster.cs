using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Platform.Batch.Tests.Storage;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;

namespace Platform.Batch.Tests.Integration;

/// <summary>
/// The distributed mode for fault tests: the gateway and TextLlm workers as separate OS processes (the built
/// Gateway.dll and TextLlm.dll next to this test assembly), RabbitMQ from scripts/rabbitmq.sh and PostgreSQL from
/// scripts/postgres.sh (both started by scripts/test.sh). Each cluster serves its own model name (its own chat
/// queue) and its own PostgreSQL schema, so clusters of different tests never share work.
/// </summary>
public sealed class DistributedCluster : IAsyncDisposable
{
    private readonly List<ServiceProcess> _processes = [];
    private readonly TempDirectory _dir = new();
    private readonly string _schema = PostgresTestServer.NewSchema();
    private readonly string _modelFolder;

    public string Model { get; } = "tiny-" + Guid.NewGuid().ToString("N")[..8];
    public ServiceProcess? Gateway { get; private set; }
    public List<ServiceProcess> Workers { get; } = [];
    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(60) };

    private DistributedCluster(LlamaConfig? config)
    {
        _modelFolder = TinyModelFactory.Create(_dir.File("model"), config ?? TinyModelFactory.TinyConfig());
    }

    /// <summary>The broker: PLATFORM_TEST_RABBITMQ (an amqp URI, as scripts/test.sh exports it), else 127.0.0.1:5672.</summary>
    public static Uri Broker { get; } = new(Environment.GetEnvironmentVariable("PLATFORM_TEST_RABBITMQ") ?? "amqp://guest:guest@127.0.0.1:5672/");

    /// <summary>Script that stops and starts the broker (broker-restart fault); PLATFORM_TEST_RABBITMQ_SCRIPT overrides.</summary>
    public static string BrokerScript =>
        Environment.GetEnvironmentVariable("PLATFORM_TEST_RABBITMQ_SCRIPT") ?? Path.Combine(RepoRoot(), "scripts", "rabbitmq.sh");

    public static string RepoRoot([CallerFilePath] string source = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(source)!, "..", "..", ".."));

    /// <summary>Skips (fails under CI=true) when RabbitMQ or PostgreSQL is not reachable.</summary>
    public static void RequireServers()
    {
        PostgresTestServer.RequireServer();
        string? problem = null;
        try
        {
            using var tcp = new TcpClient();
            tcp.Connect(Broker.Host, Broker.Port);
        }
        catch (SocketException ex)
        {
            problem = $"RabbitMQ not reachable on {Broker.Host}:{Broker.Port} ({ex.Message}). Start it with scripts/rabbitmq.sh start.";
        }
        if (problem is null) return;
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            Assert.Fail(problem + " CI=true: the fault tests must run.");
        Skip.If(true, problem);
    }

    /// <summary>A worker and a gateway serving a tiny random model (<paramref name="config"/>, default TinyConfig).</summary>
    public static async Task<DistributedCluster> StartAsync(LlamaConfig? config = null)
    {
        RequireServers();
        var cluster = new DistributedCluster(config);
        await cluster.StartWorkerAsync();
        await cluster.StartGatewayAsync();
        return cluster;
    }

    private static Dictionary<string, string> Common() => new()
    {
        ["Bus__Transport"] = "RabbitMq",
        ["Bus__RabbitMq__Host"] = Broker.Host,
        ["Bus__RabbitMq__Port"] = Broker.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Logging__LogLevel__Default"] = "Warning",
        ["Logging__LogLevel__Platform"] = "Information",
        ["DOTNET_gcServer"] = "0",
    };

    public string Schema => _schema;

    /// <summary>More gateways on their own ports, all on the same broker and database (replicas behind a balancer).</summary>
    public List<ServiceProcess> Gateways { get; } = [];

    public async Task<ServiceProcess> StartWorkerAsync(IReadOnlyDictionary<string, string>? extra = null)
    {
        var env = Common();
        foreach (var (k, v) in extra ?? new Dictionary<string, string>()) env[k] = v;
        env["TextLlm__Models__0"] = Model;
        env[$"Models__{Model}__Path"] = _modelFolder;
        env[$"Models__{Model}__Engine__MaxConcurrentSequences"] = "4";
        env["TextLlm__AnnounceIntervalSeconds"] = "1";
        env["TextLlm__HeartbeatIntervalMs"] = "200";
        var worker = ServiceProcess.Start("TextLlm.dll", _dir.Path, env, $"worker{_processes.Count}");
        _processes.Add(worker);
        Workers.Add(worker);
        await worker.WaitHealthyAsync("/alive");
        return worker;
    }

    public async Task<ServiceProcess> StartGatewayAsync() => await StartGatewayAsync(newReplica: false);

    public async Task<ServiceProcess> StartGatewayAsync(bool newReplica)
    {
        var env = Common();
        env["Batch__CoordinatorLeaseSeconds"] = "3";
        env["Gateway__HostWorkers"] = "false";
        env["Batch__Store"] = "Postgres";
        env["Batch__ConnectionString"] = PostgresTestServer.ConnectionString;
        env["Batch__PostgresSchema"] = _schema;
        env["Batch__MaxConcurrentItems"] = "2";
        env["Batch__SweepIntervalSeconds"] = "1";
        env["Batch__RedispatchAfterSeconds"] = "20";
        env["ChatClient__StreamIdleTimeoutSeconds"] = "3";
        env["ChatClient__QueueTimeoutSeconds"] = "20";
        // A restarted gateway takes the same address, as it would behind a service name.
        var gateway = ServiceProcess.Start("Gateway.dll", _dir.Path, env, $"gateway{_processes.Count}", newReplica ? null : Gateway?.Address.Port);
        if (!newReplica) Gateway = gateway;
        Gateways.Add(gateway);
        _processes.Add(gateway);
        Http.BaseAddress ??= gateway.Address;
        await gateway.WaitHealthyAsync("/health"); // healthy once a worker announced the model
        return gateway;
    }

    public string Logs() => string.Join("\n", _processes.Select(p => p.Tail()));

    public async ValueTask DisposeAsync()
    {
        foreach (var p in _processes) await p.DisposeAsync();
        Http.Dispose();
        _dir.Dispose();
    }
}

/// <summary>One service as a child process on a free loopback port; output kept in a file for diagnostics.</summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _log;

    private ServiceProcess(Process process, Uri address, string log, string name)
    {
        _process = process;
        Address = address;
        _log = log;
        Name = name;
    }

    public Uri Address { get; }
    public string Name { get; }
    public bool HasExited => _process.HasExited;

    public static ServiceProcess Start(string dll, string workDir, IReadOnlyDictionary<string, string> env, string name, int? port = null)
    {
        var path = Path.Combine(AppContext.BaseDirectory, dll);
        if (!File.Exists(path)) throw new FileNotFoundException($"The service {dll} was not built next to the tests.", path);
        var address = new Uri($"http://127.0.0.1:{port ?? FreePort()}");
        var log = Path.Combine(workDir, name + ".log");
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workDir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in new[] { "exec", path, "--urls", address.ToString().TrimEnd('/'), "--contentRoot", workDir }) info.ArgumentList.Add(a);
        foreach (var (k, v) in env) info.Environment[k] = v;
        var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {dll}.");
        var writer = new StreamWriter(log, append: true, Encoding.UTF8) { AutoFlush = true };
        var gate = new object();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (gate) writer.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (gate) writer.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new ServiceProcess(process, address, log, name);
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public async Task WaitHealthyAsync(string path)
    {
        using var http = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) Assert.Fail($"{Name} exited with {_process.ExitCode}:\n{Tail()}");
            try
            {
                if ((await http.GetAsync(path)).IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            await Task.Delay(200);
        }
        Assert.Fail($"{Name} did not become healthy at {path} within 90 s:\n{Tail()}");
    }

    public int Id => _process.Id;

    /// <summary>SIGTERM, as Kubernetes sends at pod termination: the process drains and exits by itself.</summary>
    public void Terminate()
    {
        if (_process.HasExited) return;
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    /// <summary>Waits for the process to exit by itself; its exit code, or null when it did not within the bound.</summary>
    public int? WaitForExit(TimeSpan bound) => _process.WaitForExit(bound) ? _process.ExitCode : null;

    /// <summary>SIGKILL: no graceful shutdown, no acknowledgements, no withdrawal message.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
    }

    public string Tail()
    {
        try
        {
            var lines = File.ReadAllLines(_log);
            return $"--- {Name} ---\n" + string.Join("\n", lines.TakeLast(40));
        }
        catch (IOException) { return $"--- {Name}: no log ---"; }
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}
