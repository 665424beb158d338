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
        // HttpClient will not write NUL or a lone surrogate into a header, so the file names stay printable here.
        string[] names = ["in.jsonl", "../../etc/passwd", "a\\b;c=\"d\".jsonl", "é😀.jsonl", new string('n', 5000), " x "];
        string[] purposes = ["batch", "", "fine-tune", "b\u0000", "\udc00", new string('p', 3000)];
        var failures = new List<string>();
        for (var i = 0; i < 120; i++)
        {
            var bytes = new byte[random.Next(0, 400)];
            random.NextBytes(bytes);
            using var form = new MultipartFormDataContent();
            if (random.Next(4) != 0) form.Add(new StringContent(purposes[random.Next(purposes.Length)]), "purpose");
            if (random.Next(4) != 0) form.Add(new ByteArrayContent(bytes), "file", names[random.Next(names.Length)]);
            HttpContent content = random.Next(5) == 0 ? new ByteArrayContent(bytes) { Headers = { { "Content-Type", "multipart/form-data; boundary=zz" } } } : form;
            using var response = await http.PostAsync("/v1/files", content);
            if ((int)response.StatusCode >= 500) failures.Add($"{i}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/v1/files")).StatusCode);
    }
}
