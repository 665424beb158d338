using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Gateway.WebUi;

namespace Gateway.Tests.Security;

/// <summary>An open gateway (no keys, loopback) with small limits, the web UI and one CORS origin.</summary>
public sealed class LimitedGatewayFixture : IAsyncLifetime
{
    public const int MaxBody = 8192;
    public const int MaxConnections = 4;
    public GatewayHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await GatewayHost.StartAsync(new Dictionary<string, string?>
    {
        ["Gateway:MaxRequestBodyBytes"] = MaxBody.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Gateway:MaxImagesPerRequest"] = "1",
        ["Gateway:MaxImageBytes"] = "512",
        ["Gateway:MaxChoices"] = "2",
        ["Security:MaxMessages"] = "4",
        ["Security:MaxTools"] = "2",
        ["Security:MaxSchemaBytes"] = "256",
        ["Security:MaxConcurrentConnections"] = MaxConnections.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Security:CorsOrigins:0"] = "https://app.example",
    }, configureApp: app => app.MapWebUi());

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>Each limit answers its own status and error body; CORS and the security headers of the web UI.</summary>
public class RequestLimitsTests(LimitedGatewayFixture fixture) : IClassFixture<LimitedGatewayFixture>
{
    private HttpClient Http => fixture.Host.Http;

    private static string Messages(int count) =>
        "[" + string.Join(",", Enumerable.Range(0, count).Select(i => $$"""{"role":"user","content":"m{{i}}"}""")) + "]";

    private static string Tool(string name, int padding = 0) =>
        $$$$"""{"type":"function","function":{"name":"{{{{name}}}}","description":"{{{{new string('d', padding)}}}}","parameters":{"type":"object"}}}""";

    private static readonly string Image = "data:image/png;base64," + Convert.ToBase64String(TestImages.Png(64));
    private static readonly string BigImage = "data:image/png;base64," + Convert.ToBase64String(TestImages.Png(600));

    public static TheoryData<string, int, string, string?> Cases => new()
    {
        { $$"""{"model":"tiny","messages":{{Messages(5)}}}""", 400, "array_above_max_length", "messages" },
        { $$"""{"model":"tiny","messages":{{Messages(1)}},"tools":[{{Tool("a")}},{{Tool("b")}},{{Tool("c")}}]}""", 400, "array_above_max_length", "tools" },
        { $$"""{"model":"tiny","messages":{{Messages(1)}},"tools":[{{Tool("a", 300)}}]}""", 400, "schema_too_large", "tools" },
        { """{"model":"tiny","messages":""" + Messages(1) + ""","response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"description":" """ + new string('x', 300) + "\"}}}}", 400, "schema_too_large", "response_format" },
        { $$"""{"model":"tiny","messages":[{"role":"user","content":"{{new string('x', LimitedGatewayFixture.MaxBody)}}"}]}""", 413, "request_too_large", null },
        { """{"model":"tiny","messages":[{"role":"user","content":"hi"}],"n":3}""", 400, "invalid_value", "n" },
        { """{"model":"tiny","messages":[{"role":"user","content":"hi"}],"stop":["a","b","c","d","e"]}""", 400, "invalid_value", "stop" },
        { $$$"""{"model":"tiny","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"{{{Image}}}"}},{"type":"image_url","image_url":{"url":"{{{Image}}}"}}]}]}""", 400, "invalid_value", "messages[0].content[1]" },
        { $$$"""{"model":"tiny","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"{{{BigImage}}}"}}]}]}""", 400, "invalid_image", "messages[0].content[0].image_url.url" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task ChatRequest_OverALimit_ReturnsItsStatusAndError(string body, int status, string code, string? param)
    {
        using var response = await Http.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == (int)response.StatusCode, text);
        var error = JsonNode.Parse(text)!["error"]!;
        Assert.Equal(code, error["code"]!.GetValue<string>());
        Assert.Equal(param, error["param"]?.GetValue<string>());
    }

    [Fact]
    public async Task ChatRequest_AtTheLimits_IsServed()
    {
        var body = $$"""{"model":"tiny","messages":{{Messages(4)}},"tools":[{{Tool("a")}},{{Tool("b")}}],"n":2,"max_tokens":2}""";
        using var response = await Http.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        // The tools are the structured-output work's to interpret; the limits let this request through to the endpoint.
        Assert.NotEqual(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"];
        Assert.NotEqual("array_above_max_length", error?["code"]?.GetValue<string>());
        Assert.NotEqual("schema_too_large", error?["code"]?.GetValue<string>());
    }

    [Fact]
    public async Task ChunkedBody_OverTheLimit_Returns413()
    {
        // No Content-Length: the limit is enforced while reading.
        var content = new PushStreamContent(LimitedGatewayFixture.MaxBody * 2);
        using var response = await Http.PostAsync("/v1/chat/completions", content);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("request_too_large", JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["code"]!.GetValue<string>());
    }

    private sealed class PushStreamContent(int length) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var head = Encoding.UTF8.GetBytes("""{"model":"tiny","messages":[{"role":"user","content":" """);
            await stream.WriteAsync(head);
            var chunk = Encoding.UTF8.GetBytes(new string('x', 1024));
            for (var written = head.Length; written < length; written += chunk.Length) await stream.WriteAsync(chunk);
            await stream.WriteAsync("\"}]}"u8.ToArray());
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    [Fact]
    public async Task Cors_AllowedOrigin_GetsPreflightAndExposedHeaders()
    {
        using var preflight = new HttpRequestMessage(HttpMethod.Options, "/v1/chat/completions");
        preflight.Headers.Add("Origin", "https://app.example");
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        preflight.Headers.Add("Access-Control-Request-Headers", "authorization,content-type");
        using var response = await Http.SendAsync(preflight);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("https://app.example", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Contains("authorization", response.Headers.GetValues("Access-Control-Allow-Headers").Single(), StringComparison.OrdinalIgnoreCase);

        using var get = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        get.Headers.Add("Origin", "https://app.example");
        using var got = await Http.SendAsync(get);
        Assert.Equal("https://app.example", got.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Contains("x-ratelimit-remaining-requests", got.Headers.GetValues("Access-Control-Expose-Headers").Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cors_OtherOrigin_GetsNoAllowOrigin()
    {
        using var get = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        get.Headers.Add("Origin", "https://evil.example");
        using var response = await Http.SendAsync(get);
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/ui/app.css")]
    [InlineData("/v1/models")]
    public async Task Responses_CarryTheSecurityHeaders(string path)
    {
        using var response = await Http.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
        if (path == "/") Assert.Contains("frame-ancestors 'none'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connections_PastTheLimit_AreClosedAndTheServerRecovers()
    {
        // Idle clients that never send a request each hold a connection (a slowloris); past the limit Kestrel closes new ones.
        var idle = new List<TcpClient>();
        try
        {
            for (var i = 0; i < LimitedGatewayFixture.MaxConnections; i++)
            {
                var c = new TcpClient();
                await c.ConnectAsync(fixture.Host.Address.Host, fixture.Host.Address.Port);
                idle.Add(c);
            }
            await Task.Delay(200);
            using var extra = new TcpClient();
            await extra.ConnectAsync(fixture.Host.Address.Host, fixture.Host.Address.Port);
            var stream = extra.GetStream();
            await stream.WriteAsync("GET /alive HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var buffer = new byte[256];
            int read;
            try { read = await stream.ReadAsync(buffer, timeout.Token); }
            catch (IOException) { read = 0; } // reset instead of a clean close
            Assert.Equal(0, read);
        }
        finally
        {
            foreach (var c in idle) c.Dispose();
        }
        // The idle connections gone, requests are served again.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            using var fresh = new HttpClient { BaseAddress = fixture.Host.Address };
            try
            {
                if ((await fresh.GetAsync("/alive")).IsSuccessStatusCode) break;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline) { }
            Assert.True(DateTime.UtcNow < deadline, "the gateway did not serve again after the idle connections closed");
            await Task.Delay(100);
        }
    }
}
