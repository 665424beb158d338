namespace Gateway.Tests.MoeAdapter;

/// <summary>
/// The all-in-one gateway (GatewayHost, in-memory bus) with the MoE worker serving three tiny random Mixtral folders:
/// <see cref="Drawing"/> (image adapter whose begin-of-image wins often, so it draws), <see cref="Wordy"/> (image adapter
/// whose begin-of-image never wins a greedy step) and <see cref="TextOnly"/> (no adapter). Prefix caching is off for
/// the drawing model so that every prompt token of a request is forwarded, and counted by the routing statistics.
/// </summary>
public sealed class MoeGatewayFixture : IAsyncLifetime
{
    public const string Drawing = "tiny-moe";
    public const string Wordy = "tiny-moe-words";
    public const string TextOnly = "tiny-moe-text";
    private readonly string _root = Directory.CreateTempSubdirectory("moe-gateway-").FullName;

    public GatewayHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var drawing = ImageTokenFolder.Create(Path.Combine(_root, "drawing"), beginScale: 40f);
        var wordy = ImageTokenFolder.Create(Path.Combine(_root, "wordy"), beginScale: 0f, seed: 11);
        var textOnly = ImageTokenFolder.CreateBase(Path.Combine(_root, "text"), seed: 12);
        var settings = new Dictionary<string, string?>();
        foreach (var (name, path) in new[] { (Drawing, drawing), (Wordy, wordy), (TextOnly, textOnly) })
        {
            settings[$"Models:{name}:Path"] = path;
            settings[$"Models:{name}:Kind"] = "moe";
            settings[$"Models:{name}:Engine:MaxConcurrentSequences"] = "4";
        }
        settings[$"Models:{Drawing}:Engine:PrefixCaching"] = "false";
        Host = await GatewayHost.StartAsync(settings);
        // /health is ready once every worker loaded; the MoE models are in the directory after their first announcement.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!(await Host.Http.GetStringAsync("/v1/models", deadline.Token)).Contains(TextOnly, StringComparison.Ordinal))
            await Task.Delay(50, deadline.Token);
    }

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
