using System.Text.Json;
using Platform.Inference.Chat.Jinja;
using Platform.Inference.Engine;

namespace Platform.Inference.Chat;

/// <summary>
/// A model's own chat template (tokenizer_config.json's chat_template, or chat_template.jinja) rendered by our
/// Jinja interpreter with the variables transformers' apply_chat_template passes: messages, add_generation_prompt,
/// bos_token, eos_token, tools and documents (none when absent).
/// </summary>
public sealed class JinjaChatTemplate
{
    private static readonly ChatMessage[] ProbeConversation = [new("user", "Hello")];
    private readonly JinjaTemplate _template;

    private JinjaChatTemplate(JinjaTemplate template, string? bosToken, string? eosToken)
    {
        _template = template;
        BosToken = bosToken;
        EosToken = eosToken;
        Family = ChatTemplate.DetectFamily(template.Source);
        var tokens = new List<string>();
        if (Family is not null) tokens.AddRange(ChatTemplate.ForName(Family, bosToken, eosToken).EndOfTurnTokens);
        if (eosToken is not null && !tokens.Contains(eosToken)) tokens.Add(eosToken);
        EndOfTurnTokens = tokens;
    }

    public string Source => _template.Source;

    /// <summary>The built-in family whose layout the template follows (by its markers), or null; read once at load.</summary>
    public string? Family { get; }
    public string? BosToken { get; }
    public string? EosToken { get; }

    /// <summary>Tokens that end an assistant turn: the eos token, plus the family's end-of-turn markers when the
    /// template uses a known family's layout (ChatML's &lt;|im_end|&gt;, Llama 3's &lt;|eot_id|&gt;).</summary>
    public IReadOnlyList<string> EndOfTurnTokens { get; }

    /// <summary>
    /// Parses the template and renders a one-message conversation with it, so a template this interpreter cannot
    /// handle fails when the model loads rather than on the first request. Throws <see cref="JinjaSyntaxException"/>
    /// (with the template's line) or <see cref="JinjaRuntimeException"/>.
    /// </summary>
    public static JinjaChatTemplate Load(string source, string? bosToken, string? eosToken)
    {
        var t = new JinjaChatTemplate(JinjaTemplate.Parse(source), bosToken, eosToken);
        t.RenderCore(ProbeConversation, addGenerationPrompt: true, tools: null, documents: null);
        return t;
    }

    /// <summary>Renders a conversation. A conversation the template refuses (its raise_exception, e.g. a system
    /// turn for Gemma or roles that do not alternate) throws <see cref="ArgumentException"/>: the request is at fault.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true,
        IReadOnlyList<JsonElement>? tools = null, IReadOnlyList<JsonElement>? documents = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        try
        {
            return RenderCore(messages, addGenerationPrompt, tools, documents);
        }
        catch (JinjaRuntimeException e)
        {
            throw new ArgumentException($"the model's chat template cannot render this conversation: {e.Message}", e);
        }
    }

    /// <summary>
    /// An offered function in the form chat templates read (OpenAI's and transformers':
    /// {"type": "function", "function": {"name", "description", "parameters"}}), from its parts.
    /// </summary>
    public static JsonElement ToolJson(string name, string? description, string? parametersJson)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var function = new System.Text.Json.Nodes.JsonObject { ["name"] = name };
        if (description is not null) function["description"] = description;
        if (parametersJson is not null) function["parameters"] = System.Text.Json.Nodes.JsonNode.Parse(parametersJson);
        var tool = new System.Text.Json.Nodes.JsonObject { ["type"] = "function", ["function"] = function };
        return JsonSerializer.SerializeToElement(tool);
    }

    private string RenderCore(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt,
        IReadOnlyList<JsonElement>? tools, IReadOnlyList<JsonElement>? documents)
    {
        var list = messages.Select(Message).ToList();
        var variables = new Dictionary<string, JinjaValue>
        {
            ["messages"] = new JinjaArray(list),
            ["add_generation_prompt"] = JinjaValue.Bool(addGenerationPrompt),
            ["bos_token"] = BosToken is null ? JinjaValue.None : new JinjaString(BosToken),
            ["eos_token"] = EosToken is null ? JinjaValue.None : new JinjaString(EosToken),
            ["tools"] = tools is null ? JinjaValue.None : new JinjaArray(tools.Select(JinjaValue.FromJson).ToList()),
            ["documents"] = documents is null ? JinjaValue.None : new JinjaArray(documents.Select(JinjaValue.FromJson).ToList()),
        };
        return _template.Render(variables);
    }

    /// <summary>
    /// A message as transformers hands it to templates: role and content, and for tool use the assistant's
    /// tool_calls ([{id, type: "function", function: {name, arguments}}], arguments as an object) and a tool
    /// result's tool_call_id, the shapes the Qwen2.5, Llama 3.1 and Mistral templates read.
    /// </summary>
    private static JinjaValue Message(ChatMessage m)
    {
        var properties = new List<(string, JinjaValue)> { ("role", new JinjaString(m.Role)), ("content", new JinjaString(m.Content)) };
        if (m.ToolCalls is { Count: > 0 } calls)
            properties.Add(("tool_calls", new JinjaArray(calls.Select(c => (JinjaValue)JinjaValue.FromProperties(
            [
                ("id", new JinjaString(c.Id)),
                ("type", new JinjaString("function")),
                ("function", JinjaValue.FromProperties([("name", new JinjaString(c.Name)), ("arguments", Arguments(c.ArgumentsJson))])),
            ])).ToList())));
        if (m.ToolCallId is not null) properties.Add(("tool_call_id", new JinjaString(m.ToolCallId)));
        return JinjaValue.FromProperties(properties);
    }

    // Arguments arrive as JSON text (OpenAI's shape); templates iterate them or pass them to tojson, so parse them.
    // Text that is not JSON stays a string.
    private static JinjaValue Arguments(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            return JinjaValue.FromJson(doc.RootElement.Clone());
        }
        catch (JsonException)
        {
            return new JinjaString(json);
        }
    }
}
