using System.Text.Json;
using Platform.Inference.Chat;
using Platform.Inference.Chat.Jinja;
using Platform.Inference.Engine;
using Platform.Inference.Tests.Chat.Jinja;
using Xunit;

namespace Platform.Inference.Tests.Chat;

public class JinjaChatTemplateTests
{
    private static readonly ChatMessage[][] Conversations =
    [
        [new("user", "Hello")],
        [new("system", "Be brief."), new("user", "Hi there"), new("assistant", "Hello!"), new("user", "Bye")],
        [new("user", $"What is in {GenerationRequest.ImagePlaceholder} this picture?"), new("assistant", "  A cat.  "), new("user", "Café 😀\nline two")],
    ];

    private static string Template(string model)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(JinjaReference.RepoRoot, "models", model, "tokenizer_config.json")));
        return doc.RootElement.GetProperty("chat_template").GetString()!;
    }

    [Theory]
    [InlineData("demo")]
    [InlineData("tiny-chat")]
    public void Render_ShippedModelTemplate_EqualsBuiltInDemoLayout(string model)
    {
        // The shipped models are trained on the "demo" layout: their own template must give the same prompts.
        var jinja = JinjaChatTemplate.Load(Template(model), null, "<|im_end|>");
        var builtIn = ChatTemplate.ForName("demo");
        foreach (var c in Conversations)
        {
            Assert.Equal(builtIn.Render(c), jinja.Render(c));
            Assert.Equal(builtIn.Render(c, addGenerationPrompt: false), jinja.Render(c, addGenerationPrompt: false));
        }
        Assert.Contains("<|im_end|>", jinja.EndOfTurnTokens);
    }

    [Fact]
    public void Render_ConversationTheTemplateRejects_ThrowsArgumentException()
    {
        // Gemma's template refuses a system turn with raise_exception: a bad request, not a server fault.
        const string gemma = "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{{ '<start_of_turn>' + message['role'] + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}";
        var t = JinjaChatTemplate.Load(gemma, "<bos>", "<eos>");
        Assert.Equal("<bos><start_of_turn>user\nHi<end_of_turn>\n", t.Render([new("user", " Hi ")]));
        var e = Assert.Throws<ArgumentException>(() => t.Render([new("system", "x"), new("user", "Hi")]));
        Assert.Contains("System role not supported", e.Message);
    }

    [Fact]
    public void Render_Tools_ReachTheTemplate()
    {
        const string template = "{% if tools %}{% for t in tools %}<tool>{{ t.function.name }}:{{ t.function.parameters | tojson }}</tool>{% endfor %}{% endif %}{% for m in messages %}{{ m.content }}{% endfor %}";
        var t = JinjaChatTemplate.Load(template, null, null);
        using var tool = JsonDocument.Parse("""{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}""");
        Assert.Equal("<tool>get_weather:{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}}</tool>Hi", t.Render([new("user", "Hi")], tools: [tool.RootElement]));
        Assert.Equal("Hi", t.Render([new("user", "Hi")]));
        var fromParts = JinjaChatTemplate.ToolJson("get_weather", null, """{"type": "object", "properties": {"city": {"type": "string"}}}""");
        Assert.Equal(t.Render([new("user", "Hi")], tools: [tool.RootElement]), t.Render([new("user", "Hi")], tools: [fromParts]));
    }

    [Fact]
    public void Load_TemplateFailingOnOneMessage_Throws()
    {
        Assert.Throws<JinjaRuntimeException>(() => JinjaChatTemplate.Load("{{ messages[0].content | frobnicate }}", null, null));
    }

    [Fact]
    public void EndOfTurnTokens_Llama3LayoutAndEos_BothStop()
    {
        var t = JinjaChatTemplate.Load("{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>\n\n{{ m.content }}<|eot_id|>{% endfor %}", "<|begin_of_text|>", "<|end_of_text|>");
        Assert.Contains("<|eot_id|>", t.EndOfTurnTokens);
        Assert.Contains("<|end_of_text|>", t.EndOfTurnTokens);
    }

    [Theory]
    [InlineData("qwen2.5")]
    [InlineData("llama3.1")]
    public void Render_ToolRoundTrip_SameAsTheTemplateOnTransformersShapes(string name)
    {
        // The engine's messages (ChatMessage with ToolCalls / ToolCallId, ToolDefinition) reach a published template in
        // the shapes transformers passes (the differential tests check those shapes against @huggingface/jinja).
        using var data = JsonDocument.Parse(File.ReadAllText(Path.Combine(JinjaReference.TestData, "templates.json")));
        var t = data.RootElement.GetProperty(name);
        string source = t.GetProperty("chat_template").GetString()!;
        string? bos = t.GetProperty("bos_token").ValueKind == JsonValueKind.String ? t.GetProperty("bos_token").GetString() : null;
        string? eos = t.GetProperty("eos_token").ValueKind == JsonValueKind.String ? t.GetProperty("eos_token").GetString() : null;
        const string Schema = """{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}""";
        ChatMessage[] messages =
        [
            new("user", "What's the temperature in Paris?"),
            new("assistant", "") { ToolCalls = [new ToolCall("call_abc123", "get_current_temperature", """{"location":"Paris, France"}""")] },
            new("tool", "22.0") { ToolCallId = "call_abc123" },
            new("assistant", "It is 22 degrees."),
            new("user", "Thanks!"),
        ];
        var context = new System.Text.Json.Nodes.JsonObject
        {
            ["add_generation_prompt"] = true, ["bos_token"] = bos, ["eos_token"] = eos,
            ["tools"] = System.Text.Json.Nodes.JsonNode.Parse("""[{"type":"function","function":{"name":"get_current_temperature","description":"Get the temperature.","parameters":""" + Schema + "}}]"),
            ["messages"] = System.Text.Json.Nodes.JsonNode.Parse("""
                [{"role":"user","content":"What's the temperature in Paris?"},
                 {"role":"assistant","content":"","tool_calls":[{"id":"call_abc123","type":"function","function":{"name":"get_current_temperature","arguments":{"location":"Paris, France"}}}]},
                 {"role":"tool","content":"22.0","tool_call_id":"call_abc123"},
                 {"role":"assistant","content":"It is 22 degrees."},
                 {"role":"user","content":"Thanks!"}]
                """),
        };
        using var contextDoc = JsonDocument.Parse(context.ToJsonString());
        var expected = JinjaTemplate.Parse(source).Render(contextDoc.RootElement);

        var template = ChatTemplate.FromJinja(JinjaChatTemplate.Load(source, bos, eos));
        var ours = template.Render(messages, true, [new ToolDefinition("get_current_temperature", "Get the temperature.", Schema)]);

        Assert.Equal(expected, ours);
        Assert.Contains("Paris, France", ours);
        Assert.Contains("22.0", ours);
        Assert.Equal(name == "llama3.1" ? ToolCallFormat.Llama3Json : ToolCallFormat.Hermes, ToolCallFormat.For(template));
    }
}
