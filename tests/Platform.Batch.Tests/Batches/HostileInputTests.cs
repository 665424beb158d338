using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Platform.Batch.Tests.Storage;

namespace Platform.Batch.Tests.Batches;

/// <summary>
/// Strings no store can hold (NUL, which PostgreSQL text refuses) or no encoder can write (a lone UTF-16 surrogate,
/// from a JSON escape such as "\ud800") get a 400 naming the field from every Files and Batch endpoint, on SQLite and
/// on PostgreSQL, and the service keeps answering.
/// </summary>
public abstract class HostileInputTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();
    private BatchTestHost _host = null!;

    protected abstract Dictionary<string, string?>? Settings();

    public virtual async Task InitializeAsync() => _host = await BatchTestHost.StartAsync(_dir.File("batch.db"), Settings());

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        _dir.Dispose();
    }

    // Raw JSON text: the escapes reach the server as written.
    public static TheoryData<string, string> HostileBatchBodies() => new()
    {
        { """{"input_file_id":"file-\u0000","endpoint":"/v1/chat/completions","completion_window":"24h"}""", "input_file_id" },
        { """{"input_file_id":"file-\ud800","endpoint":"/v1/chat/completions","completion_window":"24h"}""", "input_file_id" },
        { """{"input_file_id":"\udc00x","endpoint":"/v1/chat/completions","completion_window":"24h"}""", "input_file_id" },
        { """{"input_file_id":"file-1","endpoint":"/v1/chat/\u0000completions","completion_window":"24h"}""", "endpoint" },
        { """{"input_file_id":"file-1","endpoint":"/v1/chat/completions\ud83d","completion_window":"24h"}""", "endpoint" },
        { """{"input_file_id":"file-1","endpoint":"/v1/chat/completions","completion_window":"24h\u0000"}""", "completion_window" },
        { """{"input_file_id":"file-1","endpoint":"/v1/chat/completions","completion_window":"\ude00"}""", "completion_window" },
        { """{"input_file_id":"FILE","endpoint":"/v1/chat/completions","completion_window":"24h","metadata":{"k":"a\u0000b"}}""", "metadata" },
        { """{"input_file_id":"FILE","endpoint":"/v1/chat/completions","completion_window":"24h","metadata":{"k":"\ud800"}}""", "metadata" },
        { """{"input_file_id":"FILE","endpoint":"/v1/chat/completions","completion_window":"24h","metadata":{"\u0000":"v"}}""", "metadata" },
        { """{"input_file_id":"FILE","endpoint":"/v1/chat/completions","completion_window":"24h","metadata":{"\udfff":"v"}}""", "metadata" },
        { """{"input_file_id":"FILE","endpoint":"/v1/chat/completions","completion_window":"24h","unknown\u0000":1}""", "unknown\uFFFD" },
        { """{"input_file_id":"FILE","endpoint":"/v1/chat/completions","completion_window":"24h","extra":["ok","\ud800"]}""", "extra" },
    };

    [SkippableTheory]
    [MemberData(nameof(HostileBatchBodies))]
    public async Task CreateBatch_NulOrLoneSurrogate_400NamingTheField(string body, string param)
    {
        var fileId = await _host.UploadAsync(BatchTestHost.Line("a", "x"));
        body = body.Replace("\"FILE\"", $"\"{fileId}\"");
        using var response = await _host.Http.PostAsync("/v1/batches", new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {text}");
        var error = JsonNode.Parse(text)!["error"]!;
        Assert.Equal("invalid_request_error", error["type"]!.GetValue<string>());
        Assert.Equal(param, error["param"]!.GetValue<string>());
        await AssertStillServingAsync();
    }

    [SkippableTheory]
    [InlineData("/v1/batches/batch_%00")]
    [InlineData("/v1/batches/%ED%A0%80")]
    [InlineData("/v1/batches?after=batch_%00")]
    [InlineData("/v1/files/file-%00")]
    [InlineData("/v1/files/file-%00/content")]
    [InlineData("/v1/files?after=file-%00")]
    public async Task Get_IdWithNulOrInvalidUtf8_4xx(string path)
    {
        using var response = await _host.Http.GetAsync(path);
        var status = (int)response.StatusCode;
        Assert.True(status is >= 400 and < 500, $"{path}: {status} {await response.Content.ReadAsStringAsync()}");
        await AssertStillServingAsync();
    }

    [SkippableTheory]
    [InlineData("/v1/batches/batch_%00/cancel")]
    public async Task Cancel_IdWithNul_4xx(string path)
    {
        using var response = await _host.Http.PostAsync(path, null);
        Assert.True((int)response.StatusCode is >= 400 and < 500, $"{(int)response.StatusCode}");
        await AssertStillServingAsync();
    }

    [SkippableFact]
    public async Task DeleteFile_IdWithNul_4xx()
    {
        using var response = await _host.Http.DeleteAsync("/v1/files/file-%00");
        Assert.True((int)response.StatusCode is >= 400 and < 500, $"{(int)response.StatusCode}");
    }

    [SkippableTheory]
    [InlineData("batch\0", "input.jsonl", "purpose")]
    [InlineData("batch", "in\0put.jsonl", "file")]
    public async Task UploadFile_NulInPurposeOrName_400(string purpose, string name, string param)
    {
        using var form = new MultipartFormDataContent();
        form.Add(new StringContent(purpose), "purpose");
        var file = new ByteArrayContent(Encoding.UTF8.GetBytes(BatchTestHost.Line("a", "x")));
        file.Headers.TryAddWithoutValidation("Content-Disposition", $"form-data; name=\"file\"; filename=\"{name}\"");
        form.Add(file);
        using var response = await _host.Http.PostAsync("/v1/files", form);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {text}");
        Assert.Equal(param, JsonNode.Parse(text)!["error"]!["param"]!.GetValue<string>());
    }

    [SkippableTheory]
    [InlineData("""{"custom_id":"a\u0000","method":"POST","url":"/v1/chat/completions","body":{}}""")]
    [InlineData("""{"custom_id":"a\ud800","method":"POST","url":"/v1/chat/completions","body":{}}""")]
    public async Task BatchLine_CustomIdWithNulOrLoneSurrogate_BatchFailsValidation(string line)
    {
        var batch = await _host.CreateBatchAsync(await _host.UploadAsync(line + "\n"));
        var done = await _host.WaitForStatusAsync(batch["id"]!.GetValue<string>(), "failed", "in_progress", "completed");
        Assert.Equal("failed", done["status"]!.GetValue<string>());
        var error = Assert.Single(done["errors"]!["data"]!.AsArray())!;
        Assert.Equal("custom_id", error["param"]!.GetValue<string>());
        Assert.Equal(0, _host.Handler.Executions);
    }

    private async Task AssertStillServingAsync()
    {
        using var list = await _host.Http.GetAsync("/v1/batches");
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
    }
}

public sealed class SqliteHostileInputTests : HostileInputTests
{
    protected override Dictionary<string, string?>? Settings() => null;
}

public sealed class PostgresHostileInputTests : HostileInputTests
{
    protected override Dictionary<string, string?>? Settings() => new()
    {
        ["Batch:Store"] = "Postgres",
        ["Batch:ConnectionString"] = PostgresTestServer.ConnectionString,
        ["Batch:PostgresSchema"] = PostgresTestServer.NewSchema(),
    };

    public override async Task InitializeAsync()
    {
        PostgresTestServer.RequireServer();
        await base.InitializeAsync();
    }
}
