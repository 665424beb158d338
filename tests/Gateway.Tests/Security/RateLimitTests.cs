using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Gateway.Security;

namespace Gateway.Tests.Security;

/// <summary>Per-key requests and tokens per minute: 429 with Retry-After and OpenAI's x-ratelimit-* headers.</summary>
public class RateLimitTests(SecuredGatewayFixture fixture) : IClassFixture<SecuredGatewayFixture>
{
    private static string Header(HttpResponseMessage r, string name) => r.Headers.GetValues(name).Single();

    private static StringContent Chat(int maxTokens) => new(
        $$"""{"model":"{{GatewayHost.Model}}","messages":[{"role":"user","content":"hello there"}],"max_tokens":{{maxTokens}}}""",
        Encoding.UTF8, "application/json");

    [Fact]
    public async Task RequestsPerMinute_OverTheLimit_Returns429WithRetryAfterAndHeaders()
    {
        var http = await fixture.TenantClientAsync("rpm", new JsonObject { ["requests_per_minute"] = 2 });
        using var first = await http.GetAsync("/v1/models");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("2", Header(first, "x-ratelimit-limit-requests"));
        Assert.Equal("1", Header(first, "x-ratelimit-remaining-requests"));
        Assert.Equal("30s", Header(first, "x-ratelimit-reset-requests")); // one request back every 30 s
        using var second = await http.GetAsync("/v1/models");
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal("0", Header(second, "x-ratelimit-remaining-requests"));

        using var third = await http.GetAsync("/v1/models");
        Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
        var retryAfter = int.Parse(Header(third, "Retry-After"), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 1, 30);
        Assert.Equal("0", Header(third, "x-ratelimit-remaining-requests"));
        var error = JsonNode.Parse(await third.Content.ReadAsStringAsync())!["error"]!;
        Assert.Equal("rate_limit_exceeded", error["code"]!.GetValue<string>());
        Assert.Equal("requests", error["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task RequestsPerMinute_AreCountedPerKey()
    {
        var first = await fixture.TenantClientAsync("rpm-shared", new JsonObject { ["requests_per_minute"] = 1 });
        var second = await fixture.TenantClientAsync("rpm-shared", new JsonObject { ["requests_per_minute"] = 1 });
        Assert.Equal(HttpStatusCode.OK, (await first.GetAsync("/v1/models")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await first.GetAsync("/v1/models")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await second.GetAsync("/v1/models")).StatusCode);
    }

    [Fact]
    public async Task TokensPerMinute_OverTheLimit_Returns429WithTokenHeaders()
    {
        // Estimate per request: "hello there", the role and "user" at 4 characters a token, plus max_tokens.
        var http = await fixture.TenantClientAsync("tpm", new JsonObject { ["tokens_per_minute"] = 60 });
        using var first = await http.PostAsync("/v1/chat/completions", Chat(40));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("60", Header(first, "x-ratelimit-limit-tokens"));
        var remaining = int.Parse(Header(first, "x-ratelimit-remaining-tokens"), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(remaining, 1, 20);

        using var second = await http.PostAsync("/v1/chat/completions", Chat(40));
        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        Assert.True(second.Headers.Contains("Retry-After"));
        var error = JsonNode.Parse(await second.Content.ReadAsStringAsync())!["error"]!;
        Assert.Equal("tokens", error["type"]!.GetValue<string>());
        Assert.Equal("rate_limit_exceeded", error["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task TokensPerMinute_RequestLargerThanTheLimit_Returns429WithoutRetryAfter()
    {
        var http = await fixture.TenantClientAsync("tpm-large", new JsonObject { ["tokens_per_minute"] = 50 });
        using var response = await http.PostAsync("/v1/chat/completions", Chat(500));
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.False(response.Headers.Contains("Retry-After")); // waiting would not help
        Assert.StartsWith("Request too large", JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task BatchApi_IsCountedApartFromInteractiveRequests()
    {
        var http = await fixture.TenantClientAsync("batch-rpm", new JsonObject { ["requests_per_minute"] = 1, ["batch_requests_per_minute"] = 3 });
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/v1/models")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await http.GetAsync("/v1/models")).StatusCode);
        // Interactive quota spent; the Files and Batch APIs have their own.
        using var files = await http.GetAsync("/v1/files");
        Assert.Equal(HttpStatusCode.OK, files.StatusCode);
        Assert.Equal("3", Header(files, "x-ratelimit-limit-requests"));
        Assert.Equal("2", Header(files, "x-ratelimit-remaining-requests"));
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/v1/batches")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/v1/batches")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await http.GetAsync("/v1/batches")).StatusCode);
    }

    [Fact]
    public async Task KeyWithoutLimits_SendsNoRateLimitHeaders()
    {
        var http = await fixture.TenantClientAsync("unlimited");
        using var response = await http.GetAsync("/v1/models");
        Assert.False(response.Headers.Contains("x-ratelimit-limit-requests"));
    }

    [Theory]
    [InlineData(0.02, "20ms")]
    [InlineData(1, "1s")]
    [InlineData(59.2, "1m0s")]
    [InlineData(360, "6m0s")]
    public void FormatDuration_WritesOpenAiStyle(double seconds, string expected) =>
        Assert.Equal(expected, KeyRateLimiter.FormatDuration(TimeSpan.FromSeconds(seconds)));

    [Fact]
    public void Acquire_LimitPerMinute_RefillsInStepsThatAddUpToTheLimit()
    {
        using var limiter = new KeyRateLimiter();
        var d = limiter.Acquire("k", RateKind.Tokens, 90, 90);
        Assert.True(d.Allowed);
        Assert.Equal(0, d.Remaining);
        // 90 per minute in steps of 2 every 1.333 s: 45 steps fill the bucket in one minute.
        Assert.InRange(d.Reset.TotalSeconds, 59.99, 60.0);
        Assert.False(limiter.Acquire("k", RateKind.Tokens, 90, 1).Allowed);
    }
}
