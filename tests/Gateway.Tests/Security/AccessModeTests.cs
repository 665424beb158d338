using System.Net;
using Gateway.Security;
using Microsoft.Extensions.Logging;

namespace Gateway.Tests.Security;

/// <summary>Without keys the gateway is open on loopback only and says so; elsewhere it refuses unless told to run open.</summary>
public class AccessModeTests
{
    [Theory]
    [InlineData(true, new[] { "http://127.0.0.1:5080" })]
    [InlineData(true, new[] { "http://localhost:5000", "https://[::1]:5001" })]
    [InlineData(true, new string[0])]
    [InlineData(false, new[] { "http://0.0.0.0:5080" })]
    [InlineData(false, new[] { "http://*:5080" })]
    [InlineData(false, new[] { "http://+:80" })]
    [InlineData(false, new[] { "http://[::]:80" })]
    [InlineData(false, new[] { "http://127.0.0.1:5080", "http://192.0.2.7:5080" })]
    [InlineData(false, new[] { "http://example.com:80" })]
    public void AllLoopback_ClassifiesAddresses(bool expected, string[] urls) => Assert.Equal(expected, AccessMode.AllLoopback(urls));

    [Fact]
    public async Task Start_WithoutKeysOnLoopback_IsOpenAndSaysSo()
    {
        var logs = new ListLoggerProvider();
        await using var host = await GatewayHost.StartAsync(configureServices: s => s.AddSingleton<ILoggerProvider>(logs));
        Assert.False(host.App.Services.GetRequiredService<AccessMode>().KeysRequired);
        Assert.Equal(HttpStatusCode.OK, (await host.Http.GetAsync("/v1/models")).StatusCode);
        Assert.Contains(logs.Messages, m => m.Contains("No API keys are configured", StringComparison.Ordinal)
            && m.Contains("loopback only", StringComparison.Ordinal));
        // No admin API without an admin key.
        Assert.Equal(HttpStatusCode.NotFound, (await host.Http.GetAsync("/admin/keys")).StatusCode);
    }

    [Fact]
    public async Task Start_WithoutKeysOnAnotherAddress_IsRefusedBeforeListening()
    {
        // 192.0.2.0/24 is TEST-NET-1, never on this machine: the refusal has to come before Kestrel tries to bind it.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing", ContentRootPath = Path.GetTempPath() });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Logging:LogLevel:Default"] = "Critical" });
        builder.WebHost.UseUrls("http://192.0.2.7:0");
        builder.AddGateway();
        Platform.ServiceDefaults.Bus.BusExtensions.AddPlatformBus(builder);
        await using var app = builder.Build();
        app.MapGateway();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => app.StartAsync());
        Assert.Contains("Refusing to start open", error.Message, StringComparison.Ordinal);
        Assert.Contains("Security:AllowOpen", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ConfiguredUrls_ReadsUrlsEndpointsAndPorts()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["urls"] = "http://127.0.0.1:1;http://localhost:2",
            ["Kestrel:Endpoints:Api:Url"] = "http://10.0.0.1:3",
            ["http_ports"] = "8080",
        }).Build();
        Assert.Equal(["http://127.0.0.1:1", "http://localhost:2", "http://10.0.0.1:3", "http://*:8080"], AccessStartupCheck.ConfiguredUrls(config));
    }

    private sealed class ListLoggerProvider : ILoggerProvider
    {
        private readonly List<string> _messages = [];
        public IReadOnlyList<string> Messages { get { lock (_messages) return _messages.ToList(); } }
        public ILogger CreateLogger(string categoryName) => new ListLogger(this);
        public void Dispose() { }

        private sealed class ListLogger(ListLoggerProvider owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (IsEnabled(logLevel)) lock (owner._messages) owner._messages.Add(formatter(state, exception));
            }
        }
    }
}
