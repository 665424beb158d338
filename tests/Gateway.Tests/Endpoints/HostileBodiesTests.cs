using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Gateway.Tests.Endpoints;

/// <summary>
/// A few hundred hostile bodies per endpoint (random bytes, truncations, type swaps, deep nesting, NUL and lone
/// surrogates, out-of-range numbers): never a 5xx, always OpenAI's error shape for a 4xx, and a healthy host after.
/// </summary>
public class HostileBodiesTests(GatewayFixture fixture) : IClassFixture<GatewayFixture>
{
    private static readonly string[] Swaps =
        ["null", "true", "-1", "0", "1e400", "2147483648", "\"\"", "\"\\u0000\"", "\"\\ud800\"", "[]", "{}", "[null]", "[[-5]]", "[2147483647]", "{\"a\":1}", "\"x\""];

    public static IEnumerable<object[]> Endpoints() =>
    [
        ["/v1/completions", $$$"""{"model":"{{{GatewayHost.Model}}}","prompt":"Once upon","max_tokens":2,"logprobs":1,"echo":false,"n":1,"best_of":1,"logit_bias":{"5":1},"stop":"\n"}"""],
        ["/v1/embeddings", $$$"""{"model":"{{{GatewayHost.Model}}}","input":["a","b"],"encoding_format":"float","dimensions":4,"user":"u"}"""],
        ["/v1/chat/completions", $$$"""{"model":"{{{GatewayHost.Model}}}","messages":[{"role":"user","content":"hi"}],"max_tokens":2,"logprobs":true,"top_logprobs":1,"logit_bias":{"5":1}}"""],
    ];

    private static IEnumerable<byte[]> Bodies(string valid, Random random)
    {
        var bytes = Encoding.UTF8.GetBytes(valid);
        for (int i = 0; i < 60; i++)
        {
            var b = new byte[random.Next(1, 200)];
            random.NextBytes(b);
            yield return b;
        }
        for (int cut = 1; cut < bytes.Length; cut += Math.Max(1, bytes.Length / 60)) yield return bytes[..cut];
        var node = JsonNode.Parse(valid)!.AsObject();
        foreach (var key in node.Select(kv => kv.Key).ToList())
            foreach (var swap in Swaps)
            {
                var copy = JsonNode.Parse(valid)!.AsObject();
                copy[key] = "__swap__";
                yield return Encoding.UTF8.GetBytes(copy.ToJsonString().Replace("\"__swap__\"", swap, StringComparison.Ordinal));
            }
        yield return Encoding.UTF8.GetBytes(new string('[', 5000) + new string(']', 5000));
        yield return Encoding.UTF8.GetBytes(valid.Replace("}", ",\"x\":" + new string('[', 3000) + new string(']', 3000) + "}"));
        yield return Encoding.UTF8.GetBytes(valid.Replace("\"a\"", "\"\\ud800\\u0000\"").Replace("\"Once upon\"", "\"\\udfff\\u0000x\"").Replace("\"hi\"", "\"\\ud800\""));
        yield return [0xEF, 0xBB, 0xBF, .. bytes];
        yield return [.. bytes[..^1], 0xFF, (byte)'}'];
        yield return Encoding.UTF8.GetBytes("[" + valid + "]");
        yield return [];
    }

    [Theory]
    [MemberData(nameof(Endpoints))]
    public async Task Post_HostileBodies_NeverA5xxAndHostStaysHealthy(string path, string valid)
    {
        var random = new Random(1234);
        var count = 0;
        foreach (var body in Bodies(valid, random))
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            using var response = await fixture.Host.Http.PostAsync(path, content);
            var text = await response.Content.ReadAsStringAsync();
            var preview = Encoding.UTF8.GetString(body[..Math.Min(200, body.Length)]);
            Assert.True((int)response.StatusCode < 500, $"{(int)response.StatusCode} for {preview}: {text}");
            if ((int)response.StatusCode >= 400)
                Assert.NotNull(JsonNode.Parse(text)!["error"]!["message"]);
            count++;
        }
        Assert.True(count >= 200, $"only {count} bodies");
        Assert.Equal(HttpStatusCode.OK, (await fixture.Host.Http.GetAsync("/health")).StatusCode);
        using var ok = await fixture.Host.Http.PostAsync(path, new StringContent(valid, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }
}
