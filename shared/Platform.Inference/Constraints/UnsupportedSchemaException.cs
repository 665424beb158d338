namespace Platform.Inference.Constraints;

/// <summary>
/// A JSON schema the constrained decoder cannot enforce (or that no value can satisfy). <see cref="Pointer"/> is the
/// JSON pointer of the offending schema (<c>#/properties/zip</c>), <see cref="Keyword"/> the keyword at fault.
/// </summary>
public sealed class UnsupportedSchemaException(string pointer, string keyword, string message)
    : Exception($"{message} (keyword '{keyword}' at {pointer})")
{
    public string Pointer { get; } = pointer;
    public string Keyword { get; } = keyword;
}
