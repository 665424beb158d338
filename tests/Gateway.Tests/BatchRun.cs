using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace Gateway.Tests;

/// <summary>Uploads JSONL lines, runs them as one batch for an endpoint and returns the output lines.</summary>
internal static class BatchRun
{
    public static async Task<List<JsonNode>> RunAsync(HttpClient http, IEnumerable<JsonObject> lines, string endpoint)
    {
        using var form = new MultipartFormDataContent();
        form.Add(new StringContent("batch"), "purpose");
        form.Add(new ByteArrayContent(Encoding.UTF8.GetBytes(string.Join("\n", lines.Select(l => l.ToJsonString())))), "file", "lines.jsonl");
        using var upload = await http.PostAsync("/v1/files", form);
        var fileId = JsonNode.Parse(await upload.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
        using var created = await http.PostAsJsonAsync("/v1/batches", new { input_file_id = fileId, endpoint, completion_window = "24h" });
        var createdBody = await created.Content.ReadAsStringAsync();
        Assert.True(created.IsSuccessStatusCode, createdBody);
        var id = JsonNode.Parse(createdBody)!["id"]!.GetValue<string>();
        JsonNode batch;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        do
        {
            batch = JsonNode.Parse(await http.GetStringAsync($"/v1/batches/{id}"))!;
            if (batch["status"]!.GetValue<string>() is "completed" or "failed") break;
            await Task.Delay(100);
        } while (DateTime.UtcNow < deadline);
        Assert.Equal("completed", batch["status"]!.GetValue<string>());
        var output = await http.GetStringAsync($"/v1/files/{batch["output_file_id"]!.GetValue<string>()}/content");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
    }
}
