using Platform.Inference.Chat;
using Platform.Inference.Chat.Jinja;
using Platform.Inference.Engine;

namespace Platform.Inference.Loading;

/// <summary>
/// Chooses how a model's chats are rendered: a configured built-in renderer (Engine:ChatTemplate) wins; else the
/// model's own chat_template, run by the Jinja interpreter; else, for a folder without a template, the built-in
/// family its vocabulary's markers name. A template the interpreter cannot parse or render fails the load with the
/// template's line.
/// </summary>
internal static class ChatTemplateSelector
{
    private const string OverrideHint = "set Engine:ChatTemplate to chatml, llama3, mistral or demo to use a built-in renderer instead";

    public static ChatTemplate Select(string templateFile, string? templateText, string? bosToken, string? eosToken,
        string? overrideName, Func<string, int?> tokenToId)
    {
        if (overrideName is not null) return ForName(overrideName, bosToken, eosToken);
        if (!string.IsNullOrWhiteSpace(templateText))
        {
            try
            {
                return ChatTemplate.FromJinja(JinjaChatTemplate.Load(templateText, bosToken, eosToken));
            }
            catch (JinjaSyntaxException e)
            {
                throw new ModelLoadException($"{templateFile}: chat_template line {e.Line}: {e.Reason} ({OverrideHint})", e);
            }
            catch (JinjaRuntimeException e)
            {
                throw new ModelLoadException($"{templateFile}: chat_template fails on a one-message conversation: {e.Message} ({OverrideHint})", e);
            }
        }
        return ForName(VocabularyFamily(tokenToId), bosToken, eosToken);
    }

    /// <summary>The built-in family for a vocabulary: Llama 3's header tokens, Mistral's [INST], else ChatML.</summary>
    public static string VocabularyFamily(Func<string, int?> tokenToId) =>
        tokenToId("<|start_header_id|>") is not null ? "llama3" : tokenToId("[INST]") is not null ? "mistral" : "chatml";

    private static ChatTemplate ForName(string name, string? bosToken, string? eosToken)
    {
        try { return ChatTemplate.ForName(name, bosToken, eosToken); }
        catch (ArgumentException e) { throw new ModelLoadException($"EngineOptions.ChatTemplate: {e.Message}", e); }
    }
}
