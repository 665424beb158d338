namespace Platform.Inference.Constraints;

public enum JsonSchemaKind
{
    /// <summary>Any JSON value (json_object's members, an empty schema <c>{}</c>).</summary>
    Any,
    Object,
    Array,
    String,
    Number,
    Integer,
    /// <summary>One of a fixed set of JSON texts (enum, const, boolean, null), each in its compact serialization.</summary>
    Literals,
    /// <summary>anyOf or a type list: alternatives told apart by their first byte.</summary>
    Union,
}

/// <summary>
/// A JSON schema reduced to what the decoder enforces (see <see cref="JsonSchemaCompiler"/>). Nodes may form cycles
/// through <c>$ref</c> (recursive schemas); a <see cref="Ref"/> node stands for its target, resolved after compilation.
/// </summary>
public sealed class JsonSchemaNode
{
    public JsonSchemaKind Kind { get; internal set; }

    /// <summary>Object: declared properties in schema order. When any are declared, only these keys are generated.</summary>
    public List<(string Name, JsonSchemaNode Schema)> Properties { get; } = [];
    public HashSet<string> Required { get; } = new(StringComparer.Ordinal);
    /// <summary>Object without declared properties: the schema of its free members' values; null: no members at all.</summary>
    public JsonSchemaNode? AdditionalProperties { get; internal set; }

    /// <summary>Array: item schema (null: any value), item count bounds.</summary>
    public JsonSchemaNode? Items { get; internal set; }
    public int MinItems { get; internal set; }
    public int MaxItems { get; internal set; } = int.MaxValue;

    /// <summary>String length bounds, in code points (JSON Schema's definition of length).</summary>
    public int MinLength { get; internal set; }
    public int MaxLength { get; internal set; } = int.MaxValue;

    /// <summary>Literals: the allowed JSON texts as UTF-8.</summary>
    public List<byte[]> Literals { get; } = [];

    /// <summary>Union: the alternatives (no two start with the same byte).</summary>
    public List<JsonSchemaNode> Alternatives { get; } = [];

    /// <summary>Set on a <c>$ref</c> placeholder: the node it stands for.</summary>
    internal JsonSchemaNode? Ref { get; set; }

    /// <summary>The node this one stands for (follows <c>$ref</c>).</summary>
    public JsonSchemaNode Resolved
    {
        get
        {
            var n = this;
            for (int hops = 0; n.Ref is { } r; hops++)
            {
                if (hops > 64) throw new InvalidOperationException("$ref chain does not end");
                n = r;
            }
            return n;
        }
    }

    public static JsonSchemaNode AnyValue() => new() { Kind = JsonSchemaKind.Any };

    /// <summary>A JSON object with any members (OpenAI's json_object mode).</summary>
    public static JsonSchemaNode AnyObject() => new() { Kind = JsonSchemaKind.Object, AdditionalProperties = AnyValue() };
}
