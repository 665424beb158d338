namespace Platform.Inference.Chat.Jinja;

/// <summary>Variables of one scope (the template, a for loop, a macro call); lookups fall back to the parent.</summary>
public sealed class JinjaScope(JinjaScope? parent = null)
{
    private readonly Dictionary<string, JinjaValue> _variables = new(StringComparer.Ordinal);

    public JinjaScope? Parent { get; } = parent;

    public void Set(string name, JinjaValue value) => _variables[name] = value;

    public JinjaValue Lookup(string name)
    {
        for (var s = this; s is not null; s = s.Parent)
            if (s._variables.TryGetValue(name, out var v)) return v;
        return JinjaValue.Undefined;
    }
}
