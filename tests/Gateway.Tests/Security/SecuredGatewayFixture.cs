using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Platform.Inference.Models;
using Platform.Inference.Tokenization;

namespace Gateway.Tests.Security;

/// <summary>
/// An all-in-one gateway that requires API keys (Security:AdminKey set), with the Files and Batch APIs on a SQLite
/// database of its own, a tiny chat model and a tiny judge model. Tests create their own keys through the admin API.
/// </summary>
public sealed class SecuredGatewayFixture : IAsyncLifetime
{
    public const string AdminKey = "admin-test-secret";
    public const string Judge = "tiny-judge";
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "secured-gateway-" + Guid.NewGuid().ToString("N"));
    private readonly List<HttpClient> _clients = [];

    public GatewayHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var judge = TinyModelFactory.Create(Path.Combine(_folder, "judge"),
            TinyModelFactory.TinyConfig() with { TieWordEmbeddings = false, MaxPositionEmbeddings = 4096 }, TokenizerKind.SentencePiece, seed: 9, chatTemplate: null);
        Host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            [$"Models:{Judge}:Path"] = judge,
            [$"Models:{Judge}:Kind"] = "judge",
            [$"Models:{Judge}:Engine:MaxConcurrentSequences"] = "2",
            [$"Models:{Judge}:Engine:MaxContextTokens"] = "4096",
            ["Judge:MaxTokens"] = "8",
            ["Batch:ConnectionString"] = $"Data Source={Path.Combine(_folder, "platform.db")}",
            ["Batch:SweepIntervalSeconds"] = "0.2",
            ["Gateway:MaxRequestBodyBytes"] = "65536",
            ["Security:AdminKey"] = AdminKey,
            ["Security:CorsOrigins:0"] = "https://app.example",
        }, batch: true);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var (_, key) = await CreateKeyAsync(new JsonObject { ["tenant"] = "probe" });
        var probe = Client(key);
        while (!(await probe.GetStringAsync("/v1/models", deadline.Token)).Contains(Judge, StringComparison.Ordinal))
            await Task.Delay(50, deadline.Token);
    }

    /// <summary>A client that sends <paramref name="key"/> as its Bearer token (null: none).</summary>
    public HttpClient Client(string? key)
    {
        var http = new HttpClient { BaseAddress = Host.Address, Timeout = TimeSpan.FromSeconds(60) };
        if (key is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        lock (_clients) _clients.Add(http);
        return http;
    }

    /// <summary>POST /admin/keys; returns the key's id and secret.</summary>
    public async Task<(string Id, string Key)> CreateKeyAsync(JsonObject body)
    {
        using var response = await Client(AdminKey).PostAsJsonAsync("/admin/keys", body);
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Created, json.ToJsonString());
        return (json["id"]!.GetValue<string>(), json["key"]!.GetValue<string>());
    }

    public async Task<HttpClient> TenantClientAsync(string tenant, JsonObject? extra = null)
    {
        var body = extra ?? new JsonObject();
        body["tenant"] = tenant;
        var (_, key) = await CreateKeyAsync(body);
        return Client(key);
    }

    public async Task DisposeAsync()
    {
        lock (_clients) foreach (var c in _clients) c.Dispose();
        await Host.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }
}
