using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Gateway.Tests.Security;

/// <summary>
/// A few hundred seeded hostile bodies per endpoint, through the key gate: none may get a 5xx, and the host is healthy
/// and serves a valid request afterwards. Bounded in count; the seeds make a failure reproducible.
/// </summary>
public class HostileBodyFuzzTests(SecuredGatewayFixture fixture) : IClassFixture<SecuredGatewayFixture>
{
    private const int BodiesPerEndpoint = 240;

    public static TheoryData<string, string> Endpoints => new()
    {
        { "/v1/chat/completions", $$"""{"model":"{{GatewayHost.Model}}","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"hi"}]}],"max_tokens":2,"temperature":0.5,"top_p":0.9,"n":1,"stop":["x"],"seed":3,"stream":false}""" },
        { "/v1/images/generations", $$"""{"model":"{{GatewayHost.Model}}","prompt":"a red circle","n":1,"response_format":"b64_json","size":"64x64"}""" },
        { "/v1/judge/ratings", $$"""{"model":"{{SecuredGatewayFixture.Judge}}","messages":[{"role":"user","content":"q"}],"response":"r"}""" },
        { "/v1/judge/comparisons", $$"""{"model":"{{SecuredGatewayFixture.Judge}}","messages":[{"role":"user","content":"q"}],"responses":["a","b"],"mode":"set"}""" },
        { "/v1/batches", """{"input_file_id":"file-abc","endpoint":"/v1/chat/completions","completion_window":"24h","metadata":{"k":"v"}}""" },
        { "/admin/keys", """{"tenant":"fuzz","name":"n","models":["tiny"],"requests_per_minute":1000,"tokens_per_minute":100000}""" },
    };

    [Theory]
    [MemberData(nameof(Endpoints))]
    public async Task HostileBodies_NeverGet5xx_AndTheHostStaysHealthy(string path, string validBody)
    {
        var http = path.StartsWith("/admin", StringComparison.Ordinal)
            ? fixture.Client(SecuredGatewayFixture.AdminKey)
            : await fixture.TenantClientAsync("fuzz");
        var failures = new List<string>();
        var count = 0;
        foreach (var (kind, body) in HostileBodies.From(validBody, seed: path.Length * 7919, count: BodiesPerEndpoint))
        {
            count++;
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            using var response = await http.PostAsync(path, content);
            var text = await response.Content.ReadAsStringAsync();
            if ((int)response.StatusCode >= 500)
                failures.Add($"{kind} -> {(int)response.StatusCode} {text[..Math.Min(200, text.Length)]} for {Encoding.UTF8.GetString(body[..Math.Min(200, body.Length)])}");
            // Every refusal is an OpenAI error object.
            else if ((int)response.StatusCode >= 400 && JsonNode.Parse(text)?["error"]?["message"] is null)
                failures.Add($"{kind} -> {(int)response.StatusCode} without an error body: {text[..Math.Min(200, text.Length)]}");
        }
        Assert.Equal(BodiesPerEndpoint, count);
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));

        Assert.Equal(HttpStatusCode.OK, (await fixture.Client(null).GetAsync("/health")).StatusCode);
        var chat = await fixture.TenantClientAsync("fuzz-after");
        using var ok = await chat.PostAsync("/v1/chat/completions", new StringContent(
            $$"""{"model":"{{GatewayHost.Model}}","messages":[{"role":"user","content":"hi"}],"max_tokens":2}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task HostileUploads_NeverGet5xx()
    {
        var http = await fixture.TenantClientAsync("fuzz-files");
        var random = new Random(4242);
        // Written by hand, byte for byte: HttpClient's multipart writer will not put NUL, invalid UTF-8 or quotes in a name.
        byte[][] names = ["in.jsonl"u8.ToArray(), [0x61, 0x00, 0x62], [0xED, 0xA0, 0x80], "../../etc/passwd"u8.ToArray(),
            "a\\\"b;c=d"u8.ToArray(), Encoding.UTF8.GetBytes(new string('n', 5000)), [], [0xFF, 0xFE]];
        byte[][] purposes = ["batch"u8.ToArray(), [], "fine-tune"u8.ToArray(), [0x62, 0x00], [0xED, 0xB0, 0x80], Encoding.UTF8.GetBytes(new string('p', 3000))];
        var failures = new List<string>();
        for (var i = 0; i < 160; i++)
        {
            var content = new byte[random.Next(0, 400)];
            random.NextBytes(content);
            var body = new List<byte>();
            void Add(string text) => body.AddRange(Encoding.UTF8.GetBytes(text));
            if (random.Next(4) != 0)
            {
                Add("--zz\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n");
                body.AddRange(purposes[random.Next(purposes.Length)]);
                Add("\r\n");
            }
            if (random.Next(4) != 0)
            {
                Add("--zz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"");
                body.AddRange(names[random.Next(names.Length)]);
                Add("\"\r\nContent-Type: application/octet-stream\r\n\r\n");
                body.AddRange(content);
                Add("\r\n");
            }
            Add("--zz--\r\n");
            var bytes = body.ToArray();
            if (random.Next(5) == 0) bytes = bytes[..random.Next(bytes.Length)]; // truncated
            using var request = new ByteArrayContent(bytes);
            request.Headers.TryAddWithoutValidation("Content-Type", random.Next(8) == 0 ? "multipart/form-data" : "multipart/form-data; boundary=zz");
            using var response = await http.PostAsync("/v1/files", request);
            if ((int)response.StatusCode >= 500)
                failures.Add($"{i}: {(int)response.StatusCode} for {Convert.ToHexString(bytes[..Math.Min(bytes.Length, 120)])}");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/v1/files")).StatusCode);
    }
}
