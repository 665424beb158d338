using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Gateway.Tests.Endpoints;

/// <summary>Small helpers for tests that post JSON and read OpenAI error bodies and SSE streams.</summary>
internal static class ApiTestHttp
{
    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public static async Task<(HttpStatusCode Status, JsonNode Body)> PostAsync(HttpClient http, string path, string json)
    {
        var response = await http.PostAsync(path, Json(json));
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonNode.Parse(text) ?? throw new InvalidOperationException($"empty body, status {response.StatusCode}"));
    }

    /// <summary>The JSON payloads of a server-sent-event stream, and whether it ended with [DONE].</summary>
    public static async Task<(List<JsonNode> Events, bool Done)> StreamAsync(HttpClient http, string path, string json)
    {
        using var response = await http.PostAsync(path, Json(json));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = new List<JsonNode>();
        var done = false;
        foreach (var line in (await response.Content.ReadAsStringAsync()).Split('\n'))
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            var data = line["data: ".Length..];
            if (data == "[DONE]") done = true;
            else events.Add(JsonNode.Parse(data)!);
        }
        return (events, done);
    }

    public static void AssertError(JsonNode body, string? param, string? code)
    {
        var error = body["error"]!.AsObject();
        Assert.False(string.IsNullOrWhiteSpace(error["message"]!.GetValue<string>()));
        Assert.Equal("invalid_request_error", error["type"]!.GetValue<string>());
        Assert.Equal(param, error["param"]?.GetValue<string>());
        Assert.Equal(code, error["code"]?.GetValue<string>());
    }
}
