namespace Platform.Inference.Chat;

/// <summary>The model's own template: when a folder has a chat_template, it is rendered by the Jinja interpreter
/// (<see cref="JinjaChatTemplate"/>) and the built-in renderers above serve only folders without one, or a
/// configured override.</summary>
public sealed partial class ChatTemplate
{
    /// <summary>Set when this is the model's own template ("jinja"); null for the built-in renderers.</summary>
    public JinjaChatTemplate? Jinja { get; private init; }

    public static ChatTemplate FromJinja(JinjaChatTemplate template)
    {
        ArgumentNullException.ThrowIfNull(template);
        return new ChatTemplate("jinja", template.BosToken, template.EosToken) { Jinja = template };
    }
}
