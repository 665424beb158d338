using System.Text;
using Platform.Inference.Engine;

namespace Platform.Inference.Chat;

/// <summary>
/// Rendering of offered functions, assistant tool calls and tool results, per family, after the published templates:
/// Qwen2.5's ChatML template (a "# Tools" block with &lt;tools&gt; in the system turn; results as
/// &lt;tool_response&gt; in a user turn), Llama 3.1's (functions in the first user turn, calls as JSON, results in an
/// "ipython" turn) and Mistral's v3 ([AVAILABLE_TOOLS] before the last user turn, [TOOL_CALLS], [TOOL_RESULTS]).
/// </summary>
public sealed partial class ChatTemplate
{
    private string RenderWithTools(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, IReadOnlyList<ToolDefinition> tools)
    {
        var format = ToolCallFormat.For(this);
        var sb = new StringBuilder();
        switch (Name)
        {
            case "llama3":
            {
                sb.Append(BosToken ?? "<|begin_of_text|>");
                bool toolsPlaced = tools.Count == 0;
                foreach (var m in messages)
                {
                    var role = m.Role == "tool" ? "ipython" : m.Role;
                    var content = m.Content.Trim();
                    if (m.Role == "user" && !toolsPlaced)
                    {
                        toolsPlaced = true;
                        var block = new StringBuilder("Given the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\n\n")
                            .Append("Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.Do not use variables.\n\n");
                        foreach (var t in tools) block.Append(ToolCallFormat.DescribeTool(t)).Append("\n\n");
                        content = block + content;
                    }
                    if (m.ToolCalls is { Count: > 0 } calls) content = format.Render(calls);
                    sb.Append("<|start_header_id|>").Append(role).Append("<|end_header_id|>\n\n").Append(content).Append("<|eot_id|>");
                }
                if (addGenerationPrompt) sb.Append("<|start_header_id|>assistant<|end_header_id|>\n\n");
                break;
            }
            case "mistral":
            {
                sb.Append(BosToken ?? "<s>");
                int lastUser = -1;
                for (int i = 0; i < messages.Count; i++) if (messages[i].Role == "user") lastUser = i;
                string? system = null;
                for (int i = 0; i < messages.Count; i++)
                {
                    var m = messages[i];
                    switch (m.Role)
                    {
                        case "system":
                            system = system is null ? m.Content : system + "\n\n" + m.Content;
                            break;
                        case "user":
                            if (i == lastUser && tools.Count > 0)
                                sb.Append("[AVAILABLE_TOOLS] [").Append(string.Join(", ", tools.Select(ToolCallFormat.DescribeTool))).Append("][/AVAILABLE_TOOLS]");
                            sb.Append("[INST] ").Append(system is null ? m.Content : system + "\n\n" + m.Content).Append(" [/INST]");
                            system = null;
                            break;
                        case "assistant":
                            sb.Append(m.ToolCalls is { Count: > 0 } calls ? format.Render(calls) : m.Content).Append(EosToken ?? "</s>");
                            break;
                        case "tool":
                            sb.Append("[TOOL_RESULTS] {\"content\": ").Append(System.Text.Json.JsonSerializer.Serialize(m.Content))
                                .Append(m.ToolCallId is null ? "" : ", \"call_id\": " + System.Text.Json.JsonSerializer.Serialize(m.ToolCallId))
                                .Append("}[/TOOL_RESULTS]");
                            break;
                        default:
                            throw new ArgumentException($"role '{m.Role}' is not supported by the mistral chat template");
                    }
                }
                break;
            }
            default:
            {
                int start = 0;
                if (tools.Count > 0)
                {
                    sb.Append("<|im_start|>system\n");
                    if (messages.Count > 0 && messages[0].Role == "system") { sb.Append(messages[0].Content).Append("\n\n"); start = 1; }
                    sb.Append("# Tools\n\nYou may call one or more functions to assist with the user query.\n\n")
                        .Append("You are provided with function signatures within <tools></tools> XML tags:\n<tools>");
                    foreach (var t in tools) sb.Append('\n').Append(ToolCallFormat.DescribeTool(t));
                    sb.Append("\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n")
                        .Append("<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n");
                }
                for (int i = start; i < messages.Count; i++)
                {
                    var m = messages[i];
                    if (m.Role == "tool")
                    {
                        // Consecutive results share one user turn.
                        if (i == start || messages[i - 1].Role != "tool") sb.Append("<|im_start|>user");
                        sb.Append("\n<tool_response>\n").Append(m.Content).Append("\n</tool_response>");
                        if (i + 1 == messages.Count || messages[i + 1].Role != "tool") sb.Append("<|im_end|>\n");
                        continue;
                    }
                    sb.Append("<|im_start|>").Append(m.Role).Append('\n').Append(m.Content);
                    if (m.ToolCalls is { Count: > 0 } calls)
                        sb.Append(m.Content.Length > 0 ? "\n" : "").Append(format.Render(calls));
                    sb.Append("<|im_end|>\n");
                }
                if (addGenerationPrompt) sb.Append("<|im_start|>assistant\n");
                break;
            }
        }
        return sb.ToString();
    }
}
