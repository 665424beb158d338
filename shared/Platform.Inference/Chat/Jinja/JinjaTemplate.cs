using System.Text.Json;

namespace Platform.Inference.Chat.Jinja;

/// <summary>
/// A parsed Jinja template: the subset Hugging Face chat templates use ({{ }}, if/elif/else, for with loop.* and
/// else, set and set blocks, namespace(), macro and call, filter blocks, break/continue, raise_exception, filters,
/// is-tests, slicing, Python string and dict methods).
/// Hand-written because no Jinja engine is served on NuGet (the feed has Liquid and Scriban engines, whose syntax
/// differs); its behaviour is checked output for output against @huggingface/jinja, the implementation
/// transformers.js uses, on published chat templates (tests/Platform.Inference.Tests/Chat/Jinja).
/// </summary>
public sealed class JinjaTemplate
{
    private readonly List<Node> _body;

    private JinjaTemplate(string source, List<Node> body)
    {
        Source = source;
        _body = body;
    }

    public string Source { get; }

    /// <summary>Parses a template; a syntax error throws <see cref="JinjaSyntaxException"/> naming the line.</summary>
    public static JinjaTemplate Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return new JinjaTemplate(source, JinjaParser.Parse(source));
    }

    /// <summary>Renders with the given variables; failures throw <see cref="JinjaRuntimeException"/>.</summary>
    public string Render(IReadOnlyDictionary<string, JinjaValue> variables)
    {
        ArgumentNullException.ThrowIfNull(variables);
        var scope = new JinjaScope();
        JinjaInterpreter.AddGlobals(scope);
        foreach (var (name, value) in variables) scope.Set(name, value);
        try
        {
            return new JinjaInterpreter().RenderBlock(_body, scope);
        }
        catch (InsufficientExecutionStackException)
        {
            throw new JinjaRuntimeException("template nests too deeply");
        }
        catch (Exception e) when (e is ArgumentException or InvalidCastException or IndexOutOfRangeException or OverflowException or FormatException)
        {
            throw new JinjaRuntimeException(e.Message);
        }
    }

    /// <summary>Renders with the properties of a JSON object as the variables.</summary>
    public string Render(JsonElement variables)
    {
        if (variables.ValueKind != JsonValueKind.Object) throw new ArgumentException("template variables must be a JSON object", nameof(variables));
        return Render(variables.EnumerateObject().ToDictionary(p => p.Name, p => JinjaValue.FromJson(p.Value)));
    }
}
