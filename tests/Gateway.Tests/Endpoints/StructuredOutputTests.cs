// ChatCompletionOptions.Seed is marked experimental in the SDK; the gateway honours it.
#pragma warning disable OPENAI001
using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using OpenAI;
using OpenAI.Chat;

namespace Gateway.Tests.Endpoints;

/// <summary>
/// response_format and tools through the official OpenAI .NET SDK and plain HTTP, against the all-in-one gateway with
/// a tiny random model: its constrained output must parse and validate every time, whatever the random weights say.
/// </summary>
public class StructuredOutputTests(StructuredGatewayFixture fixture) : IClassFixture<StructuredGatewayFixture>
{
    // Bounded strings and arrays: every path through the grammar ends well within the tiny model's context.
    private const string PersonSchema = """
        {"type":"object","properties":{
          "name":{"type":"string","maxLength":5},
          "age":{"type":"integer"},
          "role":{"enum":["user","admin"]},
          "tags":{"type":"array","items":{"type":"boolean"},"maxItems":2}
        },"required":["name","age","role","tags"],"additionalProperties":false}
        """;

    private const string WeatherSchema = """
        {"type":"object","properties":{"city":{"type":"string","maxLength":6},"unit":{"enum":["c","f"]}},
         "required":["city","unit"],"additionalProperties":false}
        """;

    private ChatClient Client => new(GatewayHost.Model, new ApiKeyCredential("unused"),
        new OpenAIClientOptions { Endpoint = new Uri(fixture.Host.Address, "/v1") });

    private static bool Validates(string schema, string json)
    {
        var s = JsonSchema.FromText(schema, new BuildOptions { SchemaRegistry = new SchemaRegistry() }, new Uri($"https://schemas.test/{Guid.NewGuid():N}"));
        using var doc = JsonDocument.Parse(json);
        return s.Evaluate(doc.RootElement).IsValid;
    }

    private static ChatTool Weather(bool strict = true) =>
        ChatTool.CreateFunctionTool("get_weather", "The weather in a city", BinaryData.FromString(WeatherSchema), strict);

    private static ChatTool Time() => ChatTool.CreateFunctionTool("get_time", "The time now", BinaryData.FromString("""{"type":"object","properties":{},"additionalProperties":false}"""), true);

    [Fact]
    public async Task CompleteChat_JsonSchemaStrict_ParsesAndValidatesForEverySeed()
    {
        for (long seed = 1; seed <= 6; seed++)
        {
            ChatCompletion completion = await Client.CompleteChatAsync([new UserChatMessage("Describe a person.")], new ChatCompletionOptions
            {
                ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("person", BinaryData.FromString(PersonSchema), jsonSchemaIsStrict: true),
                Temperature = 1f, Seed = seed, MaxOutputTokenCount = 300,
            });
            Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
            var text = completion.Content[0].Text;
            Assert.True(Validates(PersonSchema, text), $"seed {seed}: {text}");
        }
    }

    [Fact]
    public async Task CompleteChat_JsonObject_IsAnObject()
    {
        ChatCompletion completion = await Client.CompleteChatAsync([new UserChatMessage("Answer in JSON.")], new ChatCompletionOptions
        {
            ResponseFormat = ChatResponseFormat.CreateJsonObjectFormat(), Temperature = 0f, MaxOutputTokenCount = 200,
        });
        var text = completion.Content[0].Text;
        if (completion.FinishReason == ChatFinishReason.Stop)
            Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(text).RootElement.ValueKind);
        else
            Assert.StartsWith("{", text.TrimStart());
    }

    [Fact]
    public async Task CompleteChat_UnsupportedSchemaKeyword_Is400NamingIt()
    {
        var ex = await Assert.ThrowsAsync<ClientResultException>(() => Client.CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions
        {
            ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("zip", BinaryData.FromString(
                """{"type":"object","properties":{"zip":{"type":"string","pattern":"^[0-9]{5}$"}},"required":["zip"],"additionalProperties":false}"""), jsonSchemaIsStrict: true),
        }));
        Assert.Equal(400, ex.Status);
        var body = JsonNode.Parse(ex.GetRawResponse()!.Content.ToString())!["error"]!;
        Assert.Equal("response_format.json_schema.schema", body["param"]!.GetValue<string>());
        Assert.Contains("'pattern'", body["message"]!.GetValue<string>());
        Assert.Contains("#/properties/zip", body["message"]!.GetValue<string>());
    }

    [Theory]
    [InlineData(false, 200)]
    [InlineData(true, 1200)]   // up to 16 calls (the hermes format's cap): more room
    public async Task CompleteChat_ToolChoiceRequired_ReturnsValidToolCalls(bool parallel, int maxTokens)
    {
        for (long seed = 1; seed <= 4; seed++)
        {
            var options = new ChatCompletionOptions
            {
                ToolChoice = ChatToolChoice.CreateRequiredChoice(), AllowParallelToolCalls = parallel, Seed = seed, Temperature = 1f, MaxOutputTokenCount = maxTokens,
            };
            options.Tools.Add(Weather());
            options.Tools.Add(Time());
            ChatCompletion completion = await Client.CompleteChatAsync([new UserChatMessage("What is the weather in Oslo?")], options);
            Assert.Equal(ChatFinishReason.ToolCalls, completion.FinishReason);
            Assert.NotEmpty(completion.ToolCalls);
            if (!parallel) Assert.Single(completion.ToolCalls);
            foreach (var call in completion.ToolCalls)
            {
                Assert.StartsWith("call_", call.Id);
                Assert.Contains(call.FunctionName, new[] { "get_weather", "get_time" });
                var args = call.FunctionArguments.ToString();
                if (call.FunctionName == "get_weather") Assert.True(Validates(WeatherSchema, args), args);
                else Assert.Equal("{}", args);
            }
            Assert.Equal(completion.ToolCalls.Count, completion.ToolCalls.Select(c => c.Id).Distinct().Count());
        }
    }

    [Fact]
    public async Task CompleteChat_NamedFunction_CallsExactlyThatFunction()
    {
        var options = new ChatCompletionOptions { ToolChoice = ChatToolChoice.CreateFunctionChoice("get_weather"), Seed = 3, MaxOutputTokenCount = 200 };
        options.Tools.Add(Time());
        options.Tools.Add(Weather());
        ChatCompletion completion = await Client.CompleteChatAsync([new UserChatMessage("Weather?")], options);
        var call = Assert.Single(completion.ToolCalls);
        Assert.Equal("get_weather", call.FunctionName);
        Assert.True(Validates(WeatherSchema, call.FunctionArguments.ToString()));
    }

    [Fact]
    public async Task CompleteChatStreaming_ToolCall_ArrivesAsToolCallUpdates()
    {
        var options = new ChatCompletionOptions { ToolChoice = ChatToolChoice.CreateFunctionChoice("get_weather"), Seed = 5, MaxOutputTokenCount = 200 };
        options.Tools.Add(Weather());
        string? name = null, id = null;
        var args = new StringBuilder();
        ChatFinishReason? finish = null;
        var text = new StringBuilder();
        await foreach (var update in Client.CompleteChatStreamingAsync([new UserChatMessage("Weather?")], options))
        {
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            foreach (var t in update.ToolCallUpdates)
            {
                name ??= t.FunctionName;
                id ??= t.ToolCallId;
                args.Append(t.FunctionArgumentsUpdate?.ToString());
            }
            finish ??= update.FinishReason;
        }
        Assert.Equal(ChatFinishReason.ToolCalls, finish);
        Assert.Equal("get_weather", name);
        Assert.StartsWith("call_", id);
        Assert.True(Validates(WeatherSchema, args.ToString()), args.ToString());
        Assert.Equal("", text.ToString());   // the call's text is not streamed as content
    }

    [Fact]
    public async Task CompleteChat_HistoryWithToolCallsAndResults_IsAccepted()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 8, Temperature = 0f };
        options.Tools.Add(Weather());
        ChatCompletion completion = await Client.CompleteChatAsync(
        [
            new UserChatMessage("Weather in Oslo?"),
            new AssistantChatMessage([ChatToolCall.CreateFunctionToolCall("call_1", "get_weather", BinaryData.FromString("""{"city":"Oslo","unit":"c"}"""))]),
            new ToolChatMessage("call_1", """{"temp": 3}"""),
        ], options);
        Assert.Contains(completion.FinishReason, new[] { ChatFinishReason.Stop, ChatFinishReason.Length, ChatFinishReason.ToolCalls });
    }

    [Fact]
    public async Task Post_ToolChoiceNone_AnswersInText()
    {
        const string body = """{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":6,"temperature":0,"tools":[{"type":"function","function":{"name":"get_time","parameters":{"type":"object"}}}],"tool_choice":"none"}""";
        var response = await fixture.Host.Http.PostAsync("/v1/chat/completions", Json(body));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var choice = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["choices"]![0]!;
        Assert.Null(choice["message"]!["tool_calls"]);
        Assert.NotEqual("tool_calls", choice["finish_reason"]!.GetValue<string>());
    }

    [Theory]
    [InlineData(""","response_format":{"type":"xml"}""", "response_format.type")]
    [InlineData(""","response_format":{"type":"json_schema"}""", "response_format.json_schema")]
    [InlineData(""","response_format":{"type":"json_schema","json_schema":{"name":"bad name","schema":{}}}""", "response_format.json_schema.name")]
    [InlineData(""","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":[1]}}""", "response_format.json_schema.schema")]
    [InlineData(""","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"number","minimum":0}}}""", "response_format.json_schema.schema")]
    [InlineData(""","tool_choice":"auto" """, "tool_choice")]
    [InlineData(""","tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"sometimes" """, "tool_choice")]
    [InlineData(""","tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}}""", "tool_choice.function.name")]
    [InlineData(""","tools":[{"type":"retrieval"}]""", "tools[0].type")]
    [InlineData(""","tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"f"}}]""", "tools[1].function.name")]
    [InlineData(""","tools":[{"type":"function","function":{"name":"f","strict":true,"parameters":{"type":"object","properties":{"a":{"type":"string","format":"email"}}}}}]""", "tools[0].function.parameters")]
    [InlineData(""","tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required","response_format":{"type":"json_object"}""", "response_format")]
    public async Task Post_BadStructuredFields_Are400WithParam(string extra, string param)
    {
        var response = await fixture.Host.Http.PostAsync("/v1/chat/completions", Json(
            $$"""{"model":"{{GatewayHost.Model}}","messages":[{"role":"user","content":"hi"}],"max_tokens":4""" + extra + "}"));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, body);
        Assert.Equal(param, JsonNode.Parse(body)!["error"]!["param"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""[{"role":"tool","content":"3"}]""", "messages[0].tool_call_id")]
    [InlineData("""[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f"}}]}]""", "messages[0].tool_calls[0].function.arguments")]
    public async Task Post_BadToolHistory_Is400WithParam(string messages, string param)
    {
        var response = await fixture.Host.Http.PostAsync("/v1/chat/completions", Json(
            $$"""{"model":"{{GatewayHost.Model}}","max_tokens":4,"messages":""" + messages + "}"));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, body);
        Assert.Equal(param, JsonNode.Parse(body)!["error"]!["param"]!.GetValue<string>());
    }

    [Fact]
    public async Task Batch_ResponseFormatAndTools_AreHonouredPerLine()
    {
        var http = fixture.Host.Http;
        JsonObject Line(string id, JsonObject extra)
        {
            var body = new JsonObject { ["model"] = GatewayHost.Model, ["max_tokens"] = 300, ["seed"] = 4,
                ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "hi" }) };
            foreach (var (k, v) in extra) body[k] = v?.DeepClone();
            return new JsonObject { ["custom_id"] = id, ["method"] = "POST", ["url"] = "/v1/chat/completions", ["body"] = body };
        }
        var lines = new[]
        {
            Line("schema", new JsonObject { ["response_format"] = JsonNode.Parse("{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"person\",\"strict\":true,\"schema\":" + PersonSchema + "}}") }),
            Line("tool", new JsonObject
            {
                ["tools"] = JsonNode.Parse("[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"strict\":true,\"parameters\":" + WeatherSchema + "}}]"),
                ["tool_choice"] = "required",
            }),
        };
        var results = (await BatchRun.RunAsync(http, lines, "/v1/chat/completions"))
            .ToDictionary(r => r["custom_id"]!.GetValue<string>(), r => r["response"]!["body"]!["choices"]![0]!);
        Assert.True(Validates(PersonSchema, results["schema"]["message"]!["content"]!.GetValue<string>()));
        Assert.Equal("tool_calls", results["tool"]["finish_reason"]!.GetValue<string>());
        var call = results["tool"]["message"]!["tool_calls"]![0]!["function"]!;
        Assert.Equal("get_weather", call["name"]!.GetValue<string>());
        Assert.True(Validates(WeatherSchema, call["arguments"]!.GetValue<string>()));
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}

/// <summary>The gateway over a tiny model with a 2048-token context: tool prompts (the family's "# Tools" block) need the room.</summary>
public sealed class StructuredGatewayFixture : IAsyncLifetime
{
    public GatewayHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await GatewayHost.StartAsync(
        modelConfig: Platform.Inference.Models.TinyModelFactory.TinyConfig() with { MaxPositionEmbeddings = 2048 }, batch: true);

    public async Task DisposeAsync() => await Host.DisposeAsync();
}
