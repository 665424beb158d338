using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Gateway.Tests.Endpoints;

/// <summary>The chat-completions extension for set-based prompting: text parts with the same "set" name form one set.</summary>
public class SetPartsTests(GatewayFixture fixture) : IClassFixture<GatewayFixture>
{
    private async Task<(HttpStatusCode, JsonNode)> ChatAsync(JsonArray parts)
    {
        var body = new JsonObject
        {
            ["model"] = GatewayHost.Model, ["max_tokens"] = 12, ["temperature"] = 1.0, ["seed"] = 7, ["ignore_eos"] = true,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = parts }),
        };
        using var response = await fixture.Host.Http.PostAsync("/v1/chat/completions", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    private static JsonObject Text(string text, string? set = null)
    {
        var part = new JsonObject { ["type"] = "text", ["text"] = text };
        if (set is not null) part["set"] = set;
        return part;
    }

    [Fact]
    public async Task ChatCompletions_SetParts_AnswerDoesNotDependOnTheirOrder()
    {
        string[] options = ["Paris is the capital", "Lyon is the capital", "Nice is the capital of France"];
        var answers = new List<string>();
        foreach (var order in new[] { new[] { 0, 1, 2 }, [2, 0, 1], [1, 2, 0], [2, 1, 0] })
        {
            var parts = new JsonArray(Text("Which is true?"));
            foreach (var i in order) parts.Add(Text(options[i], "options"));
            parts.Add(Text("Answer:"));
            var (status, body) = await ChatAsync(parts);
            Assert.Equal(HttpStatusCode.OK, status);
            answers.Add(body["choices"]![0]!["message"]!["content"]!.GetValue<string>());
        }
        Assert.All(answers, a => Assert.Equal(answers[0], a));
        // Without the set the order does reach the model (the same seed samples another text for some order).
        var plain = new List<string>();
        foreach (var order in new[] { new[] { 0, 1, 2 }, [2, 0, 1], [1, 2, 0], [2, 1, 0] })
        {
            var parts = new JsonArray(Text("Which is true?"));
            foreach (var i in order) parts.Add(Text(options[i]));
            parts.Add(Text("Answer:"));
            plain.Add((await ChatAsync(parts)).Item2["choices"]![0]!["message"]!["content"]!.GetValue<string>());
        }
        Assert.True(plain.Distinct().Count() > 1, "the plain prompts all gave the same answer; the test cannot tell sets apart");
    }

    [Theory]
    [InlineData("""[{"type":"text","text":"a <|start_2d|> b"}]""", "messages[0].content[0].text")]
    [InlineData("""[{"type":"text","text":"a","set":""}]""", "messages[0].content[0].set")]
    [InlineData("""[{"type":"text","text":"","set":"s"}]""", "messages[0].content[0].text")]
    [InlineData("""[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"},"set":"s"}]""", "messages[0].content[0].set")]
    public async Task ChatCompletions_BadSetParts_Get400(string parts, string param)
    {
        var (status, body) = await ChatAsync(JsonNode.Parse(parts)!.AsArray());
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(param, body["error"]!["param"]!.GetValue<string>());
    }

    [Fact]
    public async Task ChatCompletions_TypedMarkersInStringContent_Get400()
    {
        var body = new JsonObject
        {
            ["model"] = GatewayHost.Model,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "x <|split_2d|> y" }),
        };
        using var response = await fixture.Host.Http.PostAsync("/v1/chat/completions", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }
}
