using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Gateway.Images;
using Platform.Batch.Tenancy;

namespace Gateway.Tests.Security;

/// <summary>
/// Files, batches, judge results and generated images belong to the key's tenant: another tenant gets 404 for each
/// (never 403, which would tell that it exists), and its lists leave them out.
/// </summary>
public class TenantIsolationTests(SecuredGatewayFixture fixture) : IClassFixture<SecuredGatewayFixture>
{
    private static async Task<string> UploadAsync(HttpClient http, string jsonl)
    {
        using var form = new MultipartFormDataContent
        {
            { new StringContent("batch"), "purpose" },
            { new ByteArrayContent(Encoding.UTF8.GetBytes(jsonl)), "file", "input.jsonl" },
        };
        using var response = await http.PostAsync("/v1/files", form);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        return JsonNode.Parse(body)!["id"]!.GetValue<string>();
    }

    private static async Task AssertNotFoundAsync(Task<HttpResponseMessage> call)
    {
        using var response = await call;
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    private static async Task<JsonNode> WaitForBatchAsync(HttpClient http, string id)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (true)
        {
            var batch = JsonNode.Parse(await http.GetStringAsync($"/v1/batches/{id}"))!;
            var status = batch["status"]!.GetValue<string>();
            if (status is "completed" or "failed" or "expired" or "cancelled") return batch;
            Assert.True(DateTime.UtcNow < deadline, $"batch still {status}");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task Files_OfAnotherTenant_Return404AndStayOutOfItsList()
    {
        var a = await fixture.TenantClientAsync("files-a");
        var b = await fixture.TenantClientAsync("files-b");
        var id = await UploadAsync(a, """{"custom_id":"1","method":"POST","url":"/v1/chat/completions","body":{"model":"tiny","messages":[{"role":"user","content":"hi"}]}}""" + "\n");

        await AssertNotFoundAsync(b.GetAsync($"/v1/files/{id}"));
        await AssertNotFoundAsync(b.GetAsync($"/v1/files/{id}/content"));
        await AssertNotFoundAsync(b.DeleteAsync($"/v1/files/{id}"));
        Assert.DoesNotContain(id, await b.GetStringAsync("/v1/files"), StringComparison.Ordinal);
        // The owner still has it, untouched by the other tenant's delete.
        Assert.Contains(id, await a.GetStringAsync("/v1/files"), StringComparison.Ordinal);
        using var own = await a.GetAsync($"/v1/files/{id}/content");
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
    }

    [Fact]
    public async Task Batches_OfAnotherTenant_Return404AndTheirOutputStaysHidden()
    {
        var a = await fixture.TenantClientAsync("batch-a");
        var b = await fixture.TenantClientAsync("batch-b");
        var line = $$$"""{"custom_id":"c1","method":"POST","url":"/v1/chat/completions","body":{"model":"{{{GatewayHost.Model}}}","messages":[{"role":"user","content":"hi"}],"max_tokens":2}}""";
        var fileId = await UploadAsync(a, line + "\n");

        // B cannot even start a batch from A's file.
        using (var stolen = await b.PostAsJsonAsync("/v1/batches", new { input_file_id = fileId, endpoint = "/v1/chat/completions", completion_window = "24h" }))
            Assert.Equal(HttpStatusCode.NotFound, stolen.StatusCode);

        using var created = await a.PostAsJsonAsync("/v1/batches", new { input_file_id = fileId, endpoint = "/v1/chat/completions", completion_window = "24h" });
        var id = JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
        await AssertNotFoundAsync(b.GetAsync($"/v1/batches/{id}"));
        await AssertNotFoundAsync(b.PostAsync($"/v1/batches/{id}/cancel", null));
        Assert.DoesNotContain(id, await b.GetStringAsync("/v1/batches"), StringComparison.Ordinal);

        var done = await WaitForBatchAsync(a, id);
        Assert.Equal("completed", done["status"]!.GetValue<string>());
        var output = done["output_file_id"]!.GetValue<string>();
        await AssertNotFoundAsync(b.GetAsync($"/v1/files/{output}/content"));
        Assert.Contains("\"c1\"", await a.GetStringAsync($"/v1/files/{output}/content"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task JudgeResults_OfAnotherTenant_Return404()
    {
        var a = await fixture.TenantClientAsync("judge-a");
        var b = await fixture.TenantClientAsync("judge-b");
        var line = $$$"""{"custom_id":"j1","method":"POST","url":"/v1/judge/ratings","body":{"model":"{{{SecuredGatewayFixture.Judge}}}","messages":[{"role":"user","content":"say hi"}],"response":"hi"}}""";
        var fileId = await UploadAsync(a, line + "\n");
        using var created = await a.PostAsJsonAsync("/v1/batches", new { input_file_id = fileId, endpoint = "/v1/judge/ratings", completion_window = "24h" });
        var createdBody = await created.Content.ReadAsStringAsync();
        Assert.True(created.IsSuccessStatusCode, createdBody);
        var id = JsonNode.Parse(createdBody)!["id"]!.GetValue<string>();

        var done = await WaitForBatchAsync(a, id);
        Assert.Equal("completed", done["status"]!.GetValue<string>());
        var output = done["output_file_id"]!.GetValue<string>();
        Assert.Contains("\"j1\"", await a.GetStringAsync($"/v1/files/{output}/content"), StringComparison.Ordinal);
        await AssertNotFoundAsync(b.GetAsync($"/v1/batches/{id}"));
        await AssertNotFoundAsync(b.GetAsync($"/v1/files/{output}"));
        await AssertNotFoundAsync(b.GetAsync($"/v1/files/{output}/content"));
    }

    [Fact]
    public async Task Image_OfAnotherTenant_Returns404()
    {
        var a = await fixture.TenantClientAsync("images-a");
        var b = await fixture.TenantClientAsync("images-b");
        var store = fixture.Host.App.Services.GetRequiredService<IImageStore>();
        var png = TestImages.Png(64);
        string id;
        // As the chat endpoint does when tenant A's answer produces a picture.
        using (TenantContext.Enter("images-a")) id = await store.AddAsync(png, default);

        using var own = await a.GetAsync($"/v1/images/{id}.png");
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        Assert.Equal(png, await own.Content.ReadAsByteArrayAsync());
        await AssertNotFoundAsync(b.GetAsync($"/v1/images/{id}.png"));
        // Without a key it is 401 before any lookup.
        using var anonymous = await fixture.Client(null).GetAsync($"/v1/images/{id}.png");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }

    [Fact]
    public async Task ModelAllowList_HidesAndRefusesOtherModels()
    {
        var limited = await fixture.TenantClientAsync("allow", new JsonObject { ["models"] = new JsonArray(GatewayHost.Model) });
        var models = JsonNode.Parse(await limited.GetStringAsync("/v1/models"))!["data"]!.AsArray().Select(m => m!["id"]!.GetValue<string>()).ToList();
        Assert.Equal([GatewayHost.Model], models);
        await AssertNotFoundAsync(limited.GetAsync($"/v1/models/{SecuredGatewayFixture.Judge}"));

        using var judged = await limited.PostAsync("/v1/judge/ratings", new StringContent(
            $$"""{"model":"{{SecuredGatewayFixture.Judge}}","messages":[{"role":"user","content":"q"}],"response":"r"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.NotFound, judged.StatusCode);
        Assert.Equal("model_not_found", JsonNode.Parse(await judged.Content.ReadAsStringAsync())!["error"]!["code"]!.GetValue<string>());

        using var chat = await limited.PostAsync("/v1/chat/completions", new StringContent(
            $$"""{"model":"{{GatewayHost.Model}}","messages":[{"role":"user","content":"hi"}],"max_tokens":2}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);

        // Nor through a batch: a line naming another model stops the batch at creation.
        var lines = $$$"""{"custom_id":"ok","method":"POST","url":"/v1/chat/completions","body":{"model":"{{{GatewayHost.Model}}}","messages":[{"role":"user","content":"hi"}]}}""" + "\n"
            + $$$"""{"custom_id":"no","method":"POST","url":"/v1/chat/completions","body":{"model":"{{{SecuredGatewayFixture.Judge}}}","messages":[{"role":"user","content":"hi"}]}}""" + "\n";
        var fileId = await UploadAsync(limited, lines);
        using var batch = await limited.PostAsJsonAsync("/v1/batches", new { input_file_id = fileId, endpoint = "/v1/chat/completions", completion_window = "24h" });
        Assert.Equal(HttpStatusCode.NotFound, batch.StatusCode);
        var batchError = JsonNode.Parse(await batch.Content.ReadAsStringAsync())!["error"]!;
        Assert.Equal("model_not_found", batchError["code"]!.GetValue<string>());
        Assert.Equal("input_file_id", batchError["param"]!.GetValue<string>());
        Assert.Contains("line 2", batchError["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.DoesNotContain("batch_", await limited.GetStringAsync("/v1/batches"), StringComparison.Ordinal);

        // A key without a list sees every model.
        var open = await fixture.TenantClientAsync("allow-all");
        Assert.Contains(SecuredGatewayFixture.Judge, await open.GetStringAsync("/v1/models"), StringComparison.Ordinal);
    }
}
