using System.Text;
using Platform.Inference.Engine;

namespace Platform.Inference.Chat;

/// <summary>
/// Built-in chat renderers for the common families, used for folders without a chat_template (the family is
/// then chosen by the vocabulary's markers) or when the configuration names one; a folder's own template is
/// rendered by the Jinja interpreter (ChatTemplate.Jinja.cs). The strings follow the families' published templates:
/// ChatML (Qwen2/SmolLM: "&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n"), Llama 3
/// ("&lt;|start_header_id|&gt;role&lt;|end_header_id|&gt;\n\ncontent&lt;|eot_id|&gt;"), Mistral ("[INST] ... [/INST]").
/// "demo" is the ChatML layout our own demo models are trained with.
/// </summary>
public sealed partial class ChatTemplate
{
    public static readonly IReadOnlyList<string> Names = ["chatml", "llama3", "mistral", "demo"];

    private ChatTemplate(string name, string? bosToken, string? eosToken)
    {
        Name = name;
        BosToken = bosToken;
        EosToken = eosToken;
    }

    public string Name { get; }
    public string? BosToken { get; }
    public string? EosToken { get; }

    /// <summary>Tokens that end an assistant turn in this family (added to the stop tokens for chat requests).</summary>
    public IReadOnlyList<string> EndOfTurnTokens => Name switch
    {
        "jinja" => Jinja!.EndOfTurnTokens,
        "llama3" => ["<|eot_id|>", "<|end_of_text|>"],
        "mistral" => EosToken is null ? ["</s>"] : [EosToken],
        _ => ["<|im_end|>"],
    };

    public static ChatTemplate ForName(string name, string? bosToken = null, string? eosToken = null)
    {
        var key = name.Trim().ToLowerInvariant();
        if (!Names.Contains(key))
            throw new ArgumentException($"unknown chat template '{name}' (known: {string.Join(", ", Names)})");
        return new ChatTemplate(key, bosToken, eosToken);
    }

    /// <summary>Recognises the family from tokenizer_config.json's chat_template text; null if no marker matches.</summary>
    public static string? DetectFamily(string? templateText)
    {
        if (string.IsNullOrEmpty(templateText)) return null;
        if (templateText.Contains("<|start_header_id|>", StringComparison.Ordinal)) return "llama3";
        if (templateText.Contains("<|im_start|>", StringComparison.Ordinal))
            return templateText.Contains("demo", StringComparison.OrdinalIgnoreCase) ? "demo" : "chatml";
        if (templateText.Contains("[INST]", StringComparison.Ordinal)) return "mistral";
        return null;
    }

    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true) => Render(messages, addGenerationPrompt, null);

    /// <summary>Renders with the functions offered to the model, tool calls and tool results (see ChatTemplate.Tools.cs).</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, IReadOnlyList<ToolDefinition>? tools)
    {
        if (Jinja is not null)
            return Jinja.Render(messages, addGenerationPrompt, tools?.Select(t => JinjaChatTemplate.ToolJson(t.Name, t.Description, t.ParametersJson)).ToList());
        ArgumentNullException.ThrowIfNull(messages);
        if (tools is { Count: > 0 } || messages.Any(m => m.Role == "tool" || m.ToolCalls is { Count: > 0 }))
            return RenderWithTools(messages, addGenerationPrompt, tools ?? []);
        var sb = new StringBuilder();
        switch (Name)
        {
            case "llama3":
                sb.Append(BosToken ?? "<|begin_of_text|>");
                foreach (var m in messages)
                    sb.Append("<|start_header_id|>").Append(m.Role).Append("<|end_header_id|>\n\n").Append(m.Content.Trim()).Append("<|eot_id|>");
                if (addGenerationPrompt) sb.Append("<|start_header_id|>assistant<|end_header_id|>\n\n");
                break;
            case "mistral":
                // Mistral's template has no system role: the system text is prefixed to the first user turn.
                sb.Append(BosToken ?? "<s>");
                string? system = null;
                foreach (var m in messages)
                {
                    if (m.Role == "system") { system = system is null ? m.Content : system + "\n\n" + m.Content; continue; }
                    if (m.Role == "user")
                    {
                        var content = system is null ? m.Content : system + "\n\n" + m.Content;
                        system = null;
                        sb.Append("[INST] ").Append(content).Append(" [/INST]");
                    }
                    else if (m.Role == "assistant") sb.Append(m.Content).Append(EosToken ?? "</s>");
                    else throw new ArgumentException($"role '{m.Role}' is not supported by the mistral chat template");
                }
                break;
            default:
                foreach (var m in messages)
                    sb.Append("<|im_start|>").Append(m.Role).Append('\n').Append(m.Content).Append("<|im_end|>\n");
                if (addGenerationPrompt) sb.Append("<|im_start|>assistant\n");
                break;
        }
        return sb.ToString();
    }
}
