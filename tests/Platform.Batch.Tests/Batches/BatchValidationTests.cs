using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Platform.Batch.Tests.Batches;

/// <summary>Each malformed input line fails the batch at validation with OpenAI-style errors and its line number.</summary>
public sealed class BatchValidationTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();
    private BatchTestHost _host = null!;

    public async Task InitializeAsync() => _host = await BatchTestHost.StartAsync(_dir.File("batch.db"));

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        _dir.Dispose();
    }

    private async Task<JsonNode> FailedBatchAsync(string jsonl)
    {
        var batch = await _host.CreateBatchAsync(await _host.UploadAsync(jsonl));
        Assert.Equal("validating", batch["status"]!.GetValue<string>());
        var failed = await _host.WaitForStatusAsync(batch["id"]!.GetValue<string>(), "failed", "in_progress", "completed");
        Assert.Equal("failed", failed["status"]!.GetValue<string>());
        Assert.True(failed["failed_at"]!.GetValue<long>() > 0);
        Assert.Null(failed["output_file_id"]);
        Assert.Equal(0, failed["request_counts"]!["total"]!.GetValue<long>());
        Assert.Equal(0, _host.Handler.Executions);
        return failed["errors"]!;
    }

    private static JsonNode SingleError(JsonNode errors)
    {
        Assert.Equal("list", errors["object"]!.GetValue<string>());
        return Assert.Single(errors["data"]!.AsArray())!;
    }

    [Fact]
    public async Task Validate_LineNotJson_FailsWithInvalidJsonLineAndLineNumber()
    {
        var error = SingleError(await FailedBatchAsync(BatchTestHost.Line("a", "x") + "\n{not json\n" + BatchTestHost.Line("b", "y")));
        Assert.Equal("invalid_json_line", error["code"]!.GetValue<string>());
        Assert.Equal(2, error["line"]!.GetValue<long>());
        Assert.False(string.IsNullOrEmpty(error["message"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Validate_MissingCustomId_FailsWithMissingRequiredParameter()
    {
        var line = """{"method":"POST","url":"/v1/chat/completions","body":{"model":"demo","messages":[{"role":"user","content":"x"}]}}""";
        var error = SingleError(await FailedBatchAsync(BatchTestHost.Line("a", "x") + "\n" + line));
        Assert.Equal("missing_required_parameter", error["code"]!.GetValue<string>());
        Assert.Equal("custom_id", error["param"]!.GetValue<string>());
        Assert.Equal(2, error["line"]!.GetValue<long>());
    }

    [Fact]
    public async Task Validate_DuplicateCustomId_FailsOnTheRepeatingLine()
    {
        var error = SingleError(await FailedBatchAsync(string.Join("\n",
            BatchTestHost.Line("a", "x"), BatchTestHost.Line("b", "y"), BatchTestHost.Line("a", "z"))));
        Assert.Equal("duplicate_custom_id", error["code"]!.GetValue<string>());
        Assert.Equal("custom_id", error["param"]!.GetValue<string>());
        Assert.Equal(3, error["line"]!.GetValue<long>());
    }

    [Fact]
    public async Task Validate_OtherEndpoint_FailsWithMismatchedEndpoint()
    {
        var error = SingleError(await FailedBatchAsync(BatchTestHost.Line("a", "x", url: "/v1/embeddings")));
        Assert.Equal("mismatched_endpoint", error["code"]!.GetValue<string>());
        Assert.Equal("url", error["param"]!.GetValue<string>());
        Assert.Equal(1, error["line"]!.GetValue<long>());
    }

    [Fact]
    public async Task Validate_InvalidBody_FailsWithTheEndpointsMessageAndParam()
    {
        var line = """{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"demo","messages":[]}}""";
        var error = SingleError(await FailedBatchAsync(BatchTestHost.Line("ok", "x") + "\n\n" + line));
        Assert.Equal("invalid_request", error["code"]!.GetValue<string>());
        Assert.Equal("body.messages", error["param"]!.GetValue<string>());
        Assert.Equal(3, error["line"]!.GetValue<long>());
        Assert.Contains("at least one message", error["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Validate_SeveralBadLines_ListsEveryErrorInLineOrder()
    {
        var errors = await FailedBatchAsync(string.Join("\n", "[1]", BatchTestHost.Line("a", "x"), BatchTestHost.Line("a", "x"), "nope"));
        var data = errors["data"]!.AsArray();
        Assert.Equal([1L, 3L, 4L], data.Select(e => e!["line"]!.GetValue<long>()));
        Assert.Equal(["invalid_json_line", "duplicate_custom_id", "invalid_json_line"], data.Select(e => e!["code"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Validate_BlankFile_FailsWithEmptyFile()
    {
        var error = SingleError(await FailedBatchAsync("\n  \n"));
        Assert.Equal("empty_file", error["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Validate_CrLfLinesAndTrailingNewline_Accepted()
    {
        var batch = await _host.CreateBatchAsync(await _host.UploadAsync(BatchTestHost.Line("a", "x") + "\r\n" + BatchTestHost.Line("b", "y") + "\r\n"));
        var done = await _host.WaitForStatusAsync(batch["id"]!.GetValue<string>(), "completed", "failed");
        Assert.Equal("completed", done["status"]!.GetValue<string>());
        Assert.Equal(2, done["request_counts"]!["completed"]!.GetValue<long>());
    }
}

/// <summary>API errors: status codes and OpenAI error JSON {"error":{"message","type","param","code"}}.</summary>
public sealed class BatchApiErrorTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();
    private BatchTestHost _host = null!;

    public async Task InitializeAsync() => _host = await BatchTestHost.StartAsync(_dir.File("batch.db"));

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        _dir.Dispose();
    }

    private static async Task<JsonNode> ErrorAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {status}, got {response.StatusCode}: {text}");
        Assert.StartsWith("application/json", response.Content.Headers.ContentType?.ToString());
        var error = JsonNode.Parse(text)!["error"]!.AsObject();
        Assert.Equal(["message", "type", "param", "code"], error.Select(p => p.Key));
        Assert.False(string.IsNullOrEmpty(error["message"]!.GetValue<string>()));
        return error;
    }

    [Fact]
    public async Task GetBatch_UnknownId_Returns404WithOpenAiError()
    {
        var error = await ErrorAsync(await _host.Http.GetAsync("/v1/batches/batch_nope"), HttpStatusCode.NotFound);
        Assert.Equal("invalid_request_error", error["type"]!.GetValue<string>());
        Assert.Contains("batch_nope", error["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task CancelBatch_UnknownId_Returns404()
    {
        await ErrorAsync(await _host.Http.PostAsync("/v1/batches/batch_nope/cancel", null), HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("/v1/files/file-nope")]
    [InlineData("/v1/files/file-nope/content")]
    public async Task GetFile_UnknownId_Returns404WithParamId(string path)
    {
        var error = await ErrorAsync(await _host.Http.GetAsync(path), HttpStatusCode.NotFound);
        Assert.Equal("id", error["param"]!.GetValue<string>());
        Assert.Contains("file-nope", error["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task DeleteFile_ExistingThenAgain_DeletesThenReturns404()
    {
        var id = await _host.UploadAsync(BatchTestHost.Line("a", "x"));
        var deleted = JsonNode.Parse(await (await _host.Http.DeleteAsync($"/v1/files/{id}")).Content.ReadAsStringAsync())!;
        Assert.True(deleted["deleted"]!.GetValue<bool>());
        Assert.Equal(id, deleted["id"]!.GetValue<string>());
        await ErrorAsync(await _host.Http.DeleteAsync($"/v1/files/{id}"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task CancelBatch_AlreadyCompleted_Returns409()
    {
        var batch = await _host.CreateBatchAsync(await _host.UploadAsync(BatchTestHost.Line("a", "x")));
        var id = batch["id"]!.GetValue<string>();
        await _host.WaitForStatusAsync(id, "completed");
        var error = await ErrorAsync(await _host.Http.PostAsync($"/v1/batches/{id}/cancel", null), HttpStatusCode.Conflict);
        Assert.Equal("batch_not_cancellable", error["code"]!.GetValue<string>());
        Assert.Contains("completed", error["message"]!.GetValue<string>());
        Assert.Equal("completed", (await _host.GetBatchAsync(id))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task UploadFile_BadPurpose_Returns400WithParamPurpose()
    {
        using var form = new MultipartFormDataContent { { new StringContent("fine-tune"), "purpose" }, { new StringContent("{}"), "file", "a.jsonl" } };
        var error = await ErrorAsync(await _host.Http.PostAsync("/v1/files", form), HttpStatusCode.BadRequest);
        Assert.Equal("purpose", error["param"]!.GetValue<string>());
        Assert.Contains("fine-tune", error["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task UploadFile_MissingFile_Returns400WithParamFile()
    {
        using var form = new MultipartFormDataContent { { new StringContent("batch"), "purpose" } };
        var error = await ErrorAsync(await _host.Http.PostAsync("/v1/files", form), HttpStatusCode.BadRequest);
        Assert.Equal("file", error["param"]!.GetValue<string>());
    }

    [Fact]
    public async Task UploadFile_OverSizeLimit_Returns413()
    {
        using var form = new MultipartFormDataContent
        {
            { new StringContent("batch"), "purpose" },
            { new ByteArrayContent(new byte[200_000]), "file", "big.jsonl" }, // limit in the test host: 65,536 bytes
        };
        var error = await ErrorAsync(await _host.Http.PostAsync("/v1/files", form), HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal("file", error["param"]!.GetValue<string>());
        Assert.Contains("65536", error["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task UploadFile_JustOverLimitWithoutContentLength_Returns413()
    {
        using var form = new MultipartFormDataContent
        {
            { new StringContent("batch"), "purpose" },
            { new ByteArrayContent(new byte[65_537]), "file", "big.jsonl" },
        };
        form.Headers.ContentLength = null;
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/files") { Content = form, Version = HttpVersion.Version11 };
        request.Headers.TransferEncodingChunked = true;
        await ErrorAsync(await _host.Http.SendAsync(request), HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task CreateBatch_UnknownInputFile_Returns404WithParam()
    {
        var response = await _host.Http.PostAsJsonAsync("/v1/batches",
            new { input_file_id = "file-nope", endpoint = "/v1/chat/completions", completion_window = "24h" });
        var error = await ErrorAsync(response, HttpStatusCode.NotFound);
        Assert.Equal("input_file_id", error["param"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"endpoint":"/v1/chat/completions","completion_window":"24h"}""", "input_file_id")]
    [InlineData("""{"input_file_id":"FILE","endpoint":"/v1/images","completion_window":"24h"}""", "endpoint")]
    [InlineData("""{"input_file_id":"FILE","endpoint":"/v1/chat/completions","completion_window":"1h"}""", "completion_window")]
    [InlineData("""{"input_file_id":"FILE","endpoint":"/v1/chat/completions","completion_window":"24h","metadata":{"k":1}}""", "metadata")]
    public async Task CreateBatch_InvalidParameter_Returns400NamingIt(string body, string param)
    {
        var fileId = await _host.UploadAsync(BatchTestHost.Line("a", "x"));
        var response = await _host.Http.PostAsync("/v1/batches",
            new StringContent(body.Replace("FILE", fileId), System.Text.Encoding.UTF8, "application/json"));
        var error = await ErrorAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(param, error["param"]!.GetValue<string>());
    }

    [Fact]
    public async Task CreateBatch_OutputFileAsInput_Returns400()
    {
        var batch = await _host.CreateBatchAsync(await _host.UploadAsync(BatchTestHost.Line("a", "x")));
        var done = await _host.WaitForStatusAsync(batch["id"]!.GetValue<string>(), "completed");
        var response = await _host.Http.PostAsJsonAsync("/v1/batches",
            new { input_file_id = done["output_file_id"]!.GetValue<string>(), endpoint = "/v1/chat/completions", completion_window = "24h" });
        var error = await ErrorAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("batch_output", error["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task ListBatches_AfterAndLimit_PagesNewestFirst()
    {
        var fileId = await _host.UploadAsync(BatchTestHost.Line("a", "x"));
        var ids = new List<string>();
        for (var i = 0; i < 3; i++) ids.Add((await _host.CreateBatchAsync(fileId))["id"]!.GetValue<string>());

        var page1 = JsonNode.Parse(await _host.Http.GetStringAsync("/v1/batches?limit=2"))!;
        Assert.Equal("list", page1["object"]!.GetValue<string>());
        Assert.Equal([ids[2], ids[1]], page1["data"]!.AsArray().Select(b => b!["id"]!.GetValue<string>()));
        Assert.True(page1["has_more"]!.GetValue<bool>());
        Assert.Equal(ids[1], page1["last_id"]!.GetValue<string>());

        var page2 = JsonNode.Parse(await _host.Http.GetStringAsync($"/v1/batches?limit=2&after={ids[1]}"))!;
        Assert.Equal([ids[0]], page2["data"]!.AsArray().Select(b => b!["id"]!.GetValue<string>()));
        Assert.False(page2["has_more"]!.GetValue<bool>());

        var error = await ErrorAsync(await _host.Http.GetAsync("/v1/batches?limit=0"), HttpStatusCode.BadRequest);
        Assert.Equal("limit", error["param"]!.GetValue<string>());
    }
}
