using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Gateway.Security;

/// <summary>
/// Whether the gateway asks for API keys: yes when Security:AdminKey is set or the database holds keys. Decided on
/// start (<see cref="AccessStartupCheck"/>), before Kestrel binds.
/// </summary>
public sealed class AccessMode
{
    private volatile bool _keysRequired;

    public bool KeysRequired => _keysRequired;

    internal void RequireKeys() => _keysRequired = true;

    /// <summary>
    /// True when every address is loopback (localhost, 127.0.0.0/8, ::1). A wildcard ("*", "+", 0.0.0.0, [::]) or any
    /// other host is not. No address at all is Kestrel's default http://localhost:5000.
    /// </summary>
    public static bool AllLoopback(IEnumerable<string> urls) => urls.All(IsLoopback);

    private static bool IsLoopback(string url)
    {
        var rest = url.Contains("://", StringComparison.Ordinal) ? url[(url.IndexOf("://", StringComparison.Ordinal) + 3)..] : url;
        // Host ends at the port's colon, or at the bracket of an IPv6 literal.
        string host;
        if (rest.StartsWith('['))
        {
            var close = rest.IndexOf(']');
            host = close < 0 ? rest : rest[1..close];
        }
        else
        {
            var end = rest.IndexOfAny([':', '/']);
            host = end < 0 ? rest : rest[..end];
        }
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase)) return true;
        return IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip);
    }
}

/// <summary>
/// On start: creates the key table, decides <see cref="AccessMode"/>, and refuses an open gateway (no keys) on any
/// address but loopback unless Security:AllowOpen says to run open. Registered before Kestrel's own hosted service,
/// so a refused start never listens; the addresses Kestrel really bound are checked again once it has started.
/// </summary>
public sealed class AccessStartupCheck(
    AccessMode mode,
    IOptions<SecurityOptions> options,
    IConfiguration configuration,
    IServiceProvider services,
    IServer server,
    IHostApplicationLifetime lifetime,
    ILogger<AccessStartupCheck> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        var store = services.GetService<ApiKeyStore>();
        if (store is null)
        {
            if (!string.IsNullOrEmpty(o.AdminKey))
                throw new InvalidOperationException(
                    "Security:AdminKey is set but the gateway has no platform database for the keys (register the Batch API: AddGatewayBatch).");
        }
        else
        {
            await store.InitializeAsync(cancellationToken);
            if (!string.IsNullOrEmpty(o.AdminKey) || await store.CountAsync(cancellationToken) > 0) mode.RequireKeys();
        }
        Check(ConfiguredUrls(configuration));
        lifetime.ApplicationStarted.Register(() =>
        {
            var bound = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            try { Check(bound); }
            catch (InvalidOperationException ex)
            {
                logger.LogCritical("{Message}", ex.Message);
                lifetime.StopApplication();
            }
        });
    }

    private void Check(ICollection<string> urls)
    {
        if (mode.KeysRequired)
        {
            logger.LogInformation("API keys are required on {Urls}", string.Join(", ", urls));
            return;
        }
        if (AccessMode.AllLoopback(urls))
        {
            logger.LogWarning("No API keys are configured: the gateway is open to every caller on {Urls} (loopback only). " +
                "Set Security:AdminKey and create keys with POST /admin/keys to require them.", urls.Count == 0 ? "localhost" : string.Join(", ", urls));
            return;
        }
        if (options.Value.AllowOpen)
        {
            logger.LogWarning("No API keys are configured and Security:AllowOpen is set: the gateway is OPEN to every caller on {Urls}.",
                string.Join(", ", urls));
            return;
        }
        throw new InvalidOperationException(
            $"Refusing to start open (no API keys) on a non-loopback address ({string.Join(", ", urls)}). " +
            "Set Security:AdminKey and create API keys, listen on 127.0.0.1, or set Security:AllowOpen=true to run open explicitly.");
    }

    /// <summary>The addresses Kestrel will bind: "urls" (ASPNETCORE_URLS, --urls, UseUrls), Kestrel:Endpoints and the
    /// port-only settings (which bind every interface).</summary>
    public static List<string> ConfiguredUrls(IConfiguration configuration)
    {
        var urls = new List<string>();
        if (configuration["urls"] is { Length: > 0 } list)
            urls.AddRange(list.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        foreach (var endpoint in configuration.GetSection("Kestrel:Endpoints").GetChildren())
            if (endpoint["Url"] is { Length: > 0 } url) urls.Add(url);
        foreach (var key in new[] { "http_ports", "https_ports" })
            if (configuration[key] is { Length: > 0 } ports)
                urls.AddRange(ports.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(p => $"http://*:{p.Trim()}"));
        return urls;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
