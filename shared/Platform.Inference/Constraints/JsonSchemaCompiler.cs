using System.Text.Encodings.Web;
using System.Text.Json;

namespace Platform.Inference.Constraints;

/// <summary>
/// Compiles a JSON schema (draft 2020-12 keywords, the subset OpenAI's strict structured outputs accept) into a
/// <see cref="JsonSchemaNode"/> tree the decoder enforces. Supported: <c>type</c> (one or a list), <c>properties</c>,
/// <c>required</c>, <c>additionalProperties</c>, <c>items</c>, <c>minItems</c>/<c>maxItems</c>,
/// <c>minLength</c>/<c>maxLength</c>, <c>enum</c>, <c>const</c>, <c>anyOf</c>/<c>oneOf</c> whose alternatives start
/// with different characters, <c>$ref</c> into <c>$defs</c>/<c>definitions</c> (recursion included); annotations
/// (title, description, default, examples ...) are ignored. Any other keyword throws
/// <see cref="UnsupportedSchemaException"/> naming it: a keyword that is silently dropped would let output through
/// that does not validate.
/// </summary>
/// <remarks>
/// With declared <c>properties</c> only those keys are generated, whatever <c>additionalProperties</c> says: the
/// output still validates, and a model cannot wander into keys no one asked for.
/// </remarks>
public sealed class JsonSchemaCompiler
{
    public const int MaxNodes = 4096;
    public const int MaxDepth = 48;
    public const int MaxLiterals = 1024;

    private static readonly HashSet<string> Annotations = new(StringComparer.Ordinal)
    {
        "title", "description", "$schema", "$id", "$comment", "default", "examples", "deprecated", "readOnly", "writeOnly",
    };

    private static readonly HashSet<string> Known = new(StringComparer.Ordinal)
    {
        "type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "minLength", "maxLength",
        "enum", "const", "anyOf", "oneOf", "$ref", "$defs", "definitions",
    };

    private static readonly JsonSerializerOptions LiteralJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly JsonElement _root;
    private readonly Dictionary<string, JsonSchemaNode> _defs = new(StringComparer.Ordinal);
    private readonly List<(JsonSchemaNode Placeholder, string Ref, string Pointer)> _refs = [];
    private int _nodes;

    private JsonSchemaCompiler(JsonElement root) => _root = root;

    /// <summary>Compiles <paramref name="schemaJson"/>; throws <see cref="UnsupportedSchemaException"/> or <see cref="JsonException"/>.</summary>
    public static JsonSchemaNode Compile(string schemaJson)
    {
        using var doc = JsonDocument.Parse(schemaJson, new JsonDocumentOptions { MaxDepth = MaxDepth * 2 + 8 });
        return Compile(doc.RootElement);
    }

    public static JsonSchemaNode Compile(JsonElement schema)
    {
        var c = new JsonSchemaCompiler(schema);
        var root = c.Build(schema, "#", 0);
        // Resolving a reference may compile a definition that holds further references: index, not foreach.
        for (int i = 0; i < c._refs.Count; i++)
        {
            var (placeholder, reference, pointer) = c._refs[i];
            if (reference == "#") { placeholder.Ref = root; continue; }
            if (!c._defs.TryGetValue(reference, out var target))
            {
                target = c.ResolvePointer(reference, pointer);
                c._defs[reference] = target;
            }
            placeholder.Ref = target;
        }
        // A union's alternatives may be $refs: their first bytes are known only now.
        CheckUnions(root, new HashSet<JsonSchemaNode>(ReferenceEqualityComparer.Instance), "#");
        return root;
    }

    private JsonSchemaNode ResolvePointer(string reference, string pointer)
    {
        string[] prefixes = ["#/$defs/", "#/definitions/"];
        foreach (var prefix in prefixes)
        {
            if (!reference.StartsWith(prefix, StringComparison.Ordinal)) continue;
            var name = reference[prefix.Length..].Replace("~1", "/").Replace("~0", "~");
            var container = prefix[2..^1];
            if (_root.ValueKind == JsonValueKind.Object && _root.TryGetProperty(container, out var defs) && defs.ValueKind == JsonValueKind.Object
                && defs.TryGetProperty(name, out var def))
            {
                var placeholder = new JsonSchemaNode();
                _defs[reference] = placeholder;   // a recursive definition refers to this placeholder
                var node = Build(def, reference, 1);
                placeholder.Ref = node;
                return placeholder;
            }
            throw new UnsupportedSchemaException(pointer, "$ref", $"'$ref' points to '{reference}', which is not defined");
        }
        throw new UnsupportedSchemaException(pointer, "$ref", $"'$ref' '{reference}' is not supported; only '#', '#/$defs/...' and '#/definitions/...' are");
    }

    private JsonSchemaNode Build(JsonElement s, string at, int depth)
    {
        if (++_nodes > MaxNodes) throw new UnsupportedSchemaException(at, "schema", $"the schema has more than {MaxNodes} subschemas");
        if (depth > MaxDepth) throw new UnsupportedSchemaException(at, "schema", $"the schema is nested more than {MaxDepth} levels deep");
        if (s.ValueKind == JsonValueKind.True) return JsonSchemaNode.AnyValue();
        if (s.ValueKind == JsonValueKind.False) throw new UnsupportedSchemaException(at, "false", "the schema 'false' accepts no value");
        if (s.ValueKind != JsonValueKind.Object) throw new UnsupportedSchemaException(at, "schema", "a schema must be an object or a boolean");

        foreach (var p in s.EnumerateObject())
            if (!Known.Contains(p.Name) && !Annotations.Contains(p.Name))
                throw new UnsupportedSchemaException(at, p.Name, $"'{p.Name}' is not supported by constrained decoding");

        if (s.TryGetProperty("$ref", out var reference))
        {
            if (reference.ValueKind != JsonValueKind.String) throw new UnsupportedSchemaException(at, "$ref", "'$ref' must be a string");
            foreach (var p in s.EnumerateObject())
                if (Known.Contains(p.Name) && p.Name is not "$ref" and not "$defs" and not "definitions")
                    throw new UnsupportedSchemaException(at, p.Name, $"'{p.Name}' beside '$ref' is not supported");
            var placeholder = new JsonSchemaNode();
            _refs.Add((placeholder, reference.GetString()!, at));
            return placeholder;
        }

        if (s.TryGetProperty("const", out var constant)) return Literals([constant], TypesOf(s, at), at, "const");
        if (s.TryGetProperty("enum", out var values))
        {
            if (values.ValueKind != JsonValueKind.Array || values.GetArrayLength() == 0)
                throw new UnsupportedSchemaException(at, "enum", "'enum' must be a non-empty array");
            if (values.GetArrayLength() > MaxLiterals) throw new UnsupportedSchemaException(at, "enum", $"'enum' has more than {MaxLiterals} values");
            return Literals(values.EnumerateArray().ToList(), TypesOf(s, at), at, "enum");
        }

        foreach (var key in new[] { "anyOf", "oneOf" })
        {
            if (!s.TryGetProperty(key, out var alts)) continue;
            if (alts.ValueKind != JsonValueKind.Array || alts.GetArrayLength() == 0)
                throw new UnsupportedSchemaException(at, key, $"'{key}' must be a non-empty array");
            foreach (var p in s.EnumerateObject())
                if (Known.Contains(p.Name) && p.Name != key && p.Name is not "$defs" and not "definitions")
                    throw new UnsupportedSchemaException(at, p.Name, $"'{p.Name}' beside '{key}' is not supported");
            var union = new JsonSchemaNode { Kind = JsonSchemaKind.Union };
            int i = 0;
            foreach (var alt in alts.EnumerateArray()) union.Alternatives.Add(Build(alt, $"{at}/{key}/{i++}", depth + 1));
            return union;
        }

        var types = TypesOf(s, at);
        if (types is null)
        {
            // No type: infer it from the keywords present (properties => object, items => array ...), else any value.
            if (s.TryGetProperty("properties", out _) || s.TryGetProperty("required", out _) || s.TryGetProperty("additionalProperties", out _)) types = ["object"];
            else if (s.TryGetProperty("items", out _) || s.TryGetProperty("minItems", out _) || s.TryGetProperty("maxItems", out _)) types = ["array"];
            else if (s.TryGetProperty("minLength", out _) || s.TryGetProperty("maxLength", out _)) types = ["string"];
            else return JsonSchemaNode.AnyValue();
        }
        if (types.Count == 1) return Typed(types[0], s, at, depth);
        var node = new JsonSchemaNode { Kind = JsonSchemaKind.Union };
        foreach (var t in types) node.Alternatives.Add(Typed(t, s, at, depth));
        return node;
    }

    private static List<string>? TypesOf(JsonElement s, string at)
    {
        if (!s.TryGetProperty("type", out var type)) return null;
        string[] valid = ["object", "array", "string", "number", "integer", "boolean", "null"];
        List<string> list = type.ValueKind switch
        {
            JsonValueKind.String => [type.GetString()!],
            JsonValueKind.Array when type.EnumerateArray().All(t => t.ValueKind == JsonValueKind.String) => type.EnumerateArray().Select(t => t.GetString()!).Distinct().ToList(),
            _ => throw new UnsupportedSchemaException(at, "type", "'type' must be a string or an array of strings"),
        };
        foreach (var t in list)
            if (!valid.Contains(t)) throw new UnsupportedSchemaException(at, "type", $"unknown type '{t}'");
        if (list.Count == 0) throw new UnsupportedSchemaException(at, "type", "'type' must not be empty");
        // integer is a subset of number: a list holding both is number.
        if (list.Contains("number")) list.Remove("integer");
        return list;
    }

    private JsonSchemaNode Typed(string type, JsonElement s, string at, int depth)
    {
        switch (type)
        {
            case "object":
            {
                var node = new JsonSchemaNode { Kind = JsonSchemaKind.Object };
                if (s.TryGetProperty("properties", out var props))
                {
                    if (props.ValueKind != JsonValueKind.Object) throw new UnsupportedSchemaException(at, "properties", "'properties' must be an object");
                    foreach (var p in props.EnumerateObject())
                        node.Properties.Add((p.Name, Build(p.Value, $"{at}/properties/{Escape(p.Name)}", depth + 1)));
                }
                if (s.TryGetProperty("required", out var required))
                {
                    if (required.ValueKind != JsonValueKind.Array || required.EnumerateArray().Any(r => r.ValueKind != JsonValueKind.String))
                        throw new UnsupportedSchemaException(at, "required", "'required' must be an array of strings");
                    foreach (var r in required.EnumerateArray())
                    {
                        var name = r.GetString()!;
                        if (!node.Properties.Any(p => p.Name == name))
                            throw new UnsupportedSchemaException(at, "required", $"required property '{name}' is not declared in 'properties'");
                        node.Required.Add(name);
                    }
                }
                if (node.Properties.Count == 0)
                {
                    node.AdditionalProperties = s.TryGetProperty("additionalProperties", out var extra)
                        ? extra.ValueKind == JsonValueKind.False ? null : Build(extra, $"{at}/additionalProperties", depth + 1)
                        : JsonSchemaNode.AnyValue();
                }
                else if (s.TryGetProperty("additionalProperties", out var extra)
                    && extra.ValueKind is not (JsonValueKind.False or JsonValueKind.True or JsonValueKind.Object))
                    throw new UnsupportedSchemaException(at, "additionalProperties", "'additionalProperties' must be a boolean or a schema");
                return node;
            }
            case "array":
            {
                var node = new JsonSchemaNode { Kind = JsonSchemaKind.Array };
                if (s.TryGetProperty("items", out var items)) node.Items = Build(items, $"{at}/items", depth + 1);
                node.MinItems = Count(s, "minItems", at) ?? 0;
                node.MaxItems = Count(s, "maxItems", at) ?? int.MaxValue;
                if (node.MinItems > node.MaxItems) throw new UnsupportedSchemaException(at, "minItems", "'minItems' is greater than 'maxItems'");
                return node;
            }
            case "string":
            {
                var node = new JsonSchemaNode { Kind = JsonSchemaKind.String };
                node.MinLength = Count(s, "minLength", at) ?? 0;
                node.MaxLength = Count(s, "maxLength", at) ?? int.MaxValue;
                if (node.MinLength > node.MaxLength) throw new UnsupportedSchemaException(at, "minLength", "'minLength' is greater than 'maxLength'");
                return node;
            }
            case "number": return new JsonSchemaNode { Kind = JsonSchemaKind.Number };
            case "integer": return new JsonSchemaNode { Kind = JsonSchemaKind.Integer };
            case "boolean":
            {
                var node = new JsonSchemaNode { Kind = JsonSchemaKind.Literals };
                node.Literals.Add("true"u8.ToArray());
                node.Literals.Add("false"u8.ToArray());
                return node;
            }
            default:
            {
                var node = new JsonSchemaNode { Kind = JsonSchemaKind.Literals };
                node.Literals.Add("null"u8.ToArray());
                return node;
            }
        }
    }

    private static int? Count(JsonElement s, string keyword, string at)
    {
        if (!s.TryGetProperty(keyword, out var v)) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out var n) || n < 0)
            throw new UnsupportedSchemaException(at, keyword, $"'{keyword}' must be a non-negative integer");
        return n;
    }

    private static JsonSchemaNode Literals(IReadOnlyList<JsonElement> values, List<string>? types, string at, string keyword)
    {
        var node = new JsonSchemaNode { Kind = JsonSchemaKind.Literals };
        foreach (var v in values)
        {
            if (types is not null && !types.Any(t => Matches(t, v))) continue;   // a value the type excludes can never validate
            var text = JsonSerializer.SerializeToUtf8Bytes(v, LiteralJson);
            if (!node.Literals.Any(l => l.AsSpan().SequenceEqual(text))) node.Literals.Add(text);
        }
        if (node.Literals.Count == 0) throw new UnsupportedSchemaException(at, keyword, $"no value of '{keyword}' matches 'type'");
        return node;
    }

    private static bool Matches(string type, JsonElement v) => type switch
    {
        "object" => v.ValueKind == JsonValueKind.Object,
        "array" => v.ValueKind == JsonValueKind.Array,
        "string" => v.ValueKind == JsonValueKind.String,
        "number" => v.ValueKind == JsonValueKind.Number,
        "integer" => v.ValueKind == JsonValueKind.Number && v.TryGetDecimal(out var d) && d == decimal.Truncate(d),
        "boolean" => v.ValueKind is JsonValueKind.True or JsonValueKind.False,
        _ => v.ValueKind == JsonValueKind.Null,
    };

    private static string Escape(string name) => name.Replace("~", "~0").Replace("/", "~1");

    /// <summary>
    /// Checks every union: alternatives are chosen by the value's first byte, so two alternatives that can start with
    /// the same byte (two objects, a string and a string enum) cannot be told apart and are refused. Literal
    /// alternatives are merged first (one literal set), and number absorbs integer.
    /// </summary>
    private static void CheckUnions(JsonSchemaNode node, HashSet<JsonSchemaNode> seen, string at)
    {
        node = node.Resolved;
        if (!seen.Add(node)) return;
        switch (node.Kind)
        {
            case JsonSchemaKind.Object:
                foreach (var (name, p) in node.Properties) CheckUnions(p, seen, $"{at}/properties/{Escape(name)}");
                if (node.AdditionalProperties is { } a) CheckUnions(a, seen, $"{at}/additionalProperties");
                break;
            case JsonSchemaKind.Array:
                if (node.Items is { } items) CheckUnions(items, seen, $"{at}/items");
                break;
            case JsonSchemaKind.Union:
                var flat = new List<JsonSchemaNode>();
                Flatten(node, flat, new HashSet<JsonSchemaNode>(ReferenceEqualityComparer.Instance));
                var literals = flat.Where(a => a.Kind == JsonSchemaKind.Literals).ToList();
                var rest = flat.Where(a => a.Kind != JsonSchemaKind.Literals).ToList();
                if (rest.Any(a => a.Kind == JsonSchemaKind.Number)) rest.RemoveAll(a => a.Kind == JsonSchemaKind.Integer);
                node.Alternatives.Clear();
                node.Alternatives.AddRange(rest);
                if (literals.Count > 0)
                {
                    var merged = new JsonSchemaNode { Kind = JsonSchemaKind.Literals };
                    foreach (var l in literals.SelectMany(l => l.Literals))
                        if (!merged.Literals.Any(m => m.AsSpan().SequenceEqual(l))) merged.Literals.Add(l);
                    node.Alternatives.Add(merged);
                }
                var owner = new Dictionary<byte, int>();
                for (int i = 0; i < node.Alternatives.Count; i++)
                {
                    foreach (var b in FirstBytes(node.Alternatives[i]))
                    {
                        if (owner.TryGetValue(b, out var other) && other != i)
                            throw new UnsupportedSchemaException(at, "anyOf",
                                $"two alternatives ({Describe(node.Alternatives[other])} and {Describe(node.Alternatives[i])}) can both start with '{(char)b}'; " +
                                "alternatives must differ in type");
                        owner[b] = i;
                    }
                }
                foreach (var alt in node.Alternatives) CheckUnions(alt, seen, at);
                break;
        }
    }

    private static void Flatten(JsonSchemaNode node, List<JsonSchemaNode> into, HashSet<JsonSchemaNode> seen)
    {
        node = node.Resolved;
        if (!seen.Add(node)) throw new UnsupportedSchemaException("#", "anyOf", "an anyOf refers to itself without consuming input");
        if (node.Kind == JsonSchemaKind.Union) foreach (var a in node.Alternatives) Flatten(a, into, seen);
        else into.Add(node);
    }

    internal static IEnumerable<byte> FirstBytes(JsonSchemaNode node)
    {
        node = node.Resolved;
        return node.Kind switch
        {
            JsonSchemaKind.Object => [(byte)'{'],
            JsonSchemaKind.Array => [(byte)'['],
            JsonSchemaKind.String => [(byte)'"'],
            JsonSchemaKind.Number or JsonSchemaKind.Integer => "-0123456789"u8.ToArray(),
            JsonSchemaKind.Literals => node.Literals.Select(l => l[0]).Distinct(),
            JsonSchemaKind.Union => node.Alternatives.SelectMany(FirstBytes),
            _ => "{[\"-0123456789tfn"u8.ToArray(),
        };
    }

    private static string Describe(JsonSchemaNode n) => n.Resolved.Kind switch
    {
        JsonSchemaKind.Literals => "enum/const/boolean/null",
        var k => k.ToString().ToLowerInvariant(),
    };
}
