using Platform.Inference.Chat;
using Platform.Inference.Constraints;
using Platform.Inference.Engine;
using Xunit;

namespace Platform.Inference.Tests.Chat;

public class ToolCallFormatTests
{
    private const string WeatherSchema = """{"type":"object","properties":{"city":{"type":"string"},"unit":{"enum":["c","f"]}},"required":["city","unit"],"additionalProperties":false}""";
    private static readonly ToolDefinition Weather = new("get_weather", "Weather now", WeatherSchema);
    private static readonly ToolCall[] Calls = [new("call_1", "get_weather", """{"city": "Oslo", "unit": "c"}"""), new("call_2", "get_time", "{}")];

    private static (string, JsonSchemaNode)[] Functions() =>
        [("get_weather", JsonSchemaCompiler.Compile(WeatherSchema)), ("get_time", JsonSchemaNode.AnyObject())];

    [Theory]
    [InlineData("chatml")]
    [InlineData("llama3")]
    [InlineData("mistral")]
    public void Render_ThenParse_RoundTrips_AndTheGrammarAcceptsIt(string family)
    {
        var format = ToolCallFormat.For(ChatTemplate.ForName(family));
        var calls = Calls.Take(format.MaxCalls).ToArray();
        var text = format.Render(calls);
        var parsed = format.Parse(text);
        Assert.NotNull(parsed);
        Assert.Null(parsed.Value.Content);
        Assert.Equal(calls.Select(c => (c.Name, ToolCallFormat.CompactArguments(c.ArgumentsJson))), parsed.Value.Calls);
        var state = GrammarState.Start(format.BuildGrammar(Functions(), 8, optional: false)).Advance(text);
        Assert.NotNull(state);
        Assert.True(state.CanEnd);
    }

    [Theory]
    [InlineData("chatml")]
    [InlineData("llama3")]
    [InlineData("mistral")]
    public void BuildGrammar_RefusesUnknownFunctionsAndBadArguments(string family)
    {
        var format = ToolCallFormat.For(ChatTemplate.ForName(family));
        var g = GrammarState.Start(format.BuildGrammar(Functions(), 8, optional: false));
        Assert.Null(g.Advance(format.Render([new ToolCall("x", "delete_all", "{}")])));
        Assert.Null(g.Advance(format.Render([new ToolCall("x", "get_weather", """{"city": 5, "unit": "c"}""")])));
        Assert.Null(g.Advance("Sure, here is the weather"));
        // Optional (tool_choice auto): free text is fine, a started call is held to the grammar.
        var auto = GrammarState.Start(format.BuildGrammar(Functions(), 8, optional: true));
        Assert.True(auto.Advance("Sure, here is the weather")!.IsFree);
        Assert.Null(auto.Advance(format.Render([new ToolCall("x", "delete_all", "{}")])));
    }

    [Fact]
    public void Parse_PlainText_IsNotACall()
    {
        Assert.Null(ToolCallFormat.Hermes.Parse("Hello there"));
        Assert.Null(ToolCallFormat.Hermes.Parse("<tool_call>\n{broken\n</tool_call>"));
        Assert.Null(ToolCallFormat.Llama3Json.Parse("{\"answer\": 1}"));
        var mixed = ToolCallFormat.Hermes.Parse("Let me check.\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>");
        Assert.Equal("Let me check.", mixed!.Value.Content);
    }

    [Fact]
    public void Render_ChatMLWithTools_FollowsQwenLayout()
    {
        var messages = new[]
        {
            new ChatMessage("system", "Be brief."), new ChatMessage("user", "Weather in Oslo?"),
            new ChatMessage("assistant", "") { ToolCalls = [Calls[0]] },
            new ChatMessage("tool", "{\"temp\": 3}") { ToolCallId = "call_1" },
        };
        var text = ChatTemplate.ForName("chatml").Render(messages, true, [Weather]);
        Assert.StartsWith("<|im_start|>system\nBe brief.\n\n# Tools\n\n", text);
        Assert.Contains("<tools>\n{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Weather now\",\"parameters\":", text);
        Assert.Contains("<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\":\"Oslo\",\"unit\":\"c\"}}\n</tool_call><|im_end|>\n", text);
        Assert.EndsWith("<|im_start|>user\n<tool_response>\n{\"temp\": 3}\n</tool_response><|im_end|>\n<|im_start|>assistant\n", text);
        // Without tools the output is the plain renderer's, byte for byte.
        Assert.Equal(ChatTemplate.ForName("chatml").Render(messages[..2]), ChatTemplate.ForName("chatml").Render(messages[..2], true, null));
    }

    [Fact]
    public void Render_Llama3AndMistralWithTools_PlaceFunctionsAndResults()
    {
        var messages = new[] { new ChatMessage("user", "Weather?"), new ChatMessage("assistant", "") { ToolCalls = [Calls[0]] }, new ChatMessage("tool", "3C") { ToolCallId = "call_1" } };
        var llama = ChatTemplate.ForName("llama3").Render(messages, true, [Weather]);
        Assert.Contains("<|start_header_id|>user<|end_header_id|>\n\nGiven the following functions", llama);
        Assert.Contains("<|start_header_id|>assistant<|end_header_id|>\n\n{\"name\": \"get_weather\", \"parameters\": {\"city\":\"Oslo\",\"unit\":\"c\"}}<|eot_id|>", llama);
        Assert.Contains("<|start_header_id|>ipython<|end_header_id|>\n\n3C<|eot_id|>", llama);
        var mistral = ChatTemplate.ForName("mistral", "<s>", "</s>").Render(messages, true, [Weather]);
        Assert.StartsWith("<s>[AVAILABLE_TOOLS] [{\"type\":\"function\"", mistral);
        Assert.Contains("[/AVAILABLE_TOOLS][INST] Weather? [/INST][TOOL_CALLS] [{\"name\": \"get_weather\"", mistral);
        Assert.EndsWith("[TOOL_RESULTS] {\"content\": \"3C\", \"call_id\": \"call_1\"}[/TOOL_RESULTS]", mistral);
    }
}
