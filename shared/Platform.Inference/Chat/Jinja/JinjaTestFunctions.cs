namespace Platform.Inference.Chat.Jinja;

/// <summary>The tests usable after <c>is</c> (and by select/rejectattr), with the reference's definitions.</summary>
internal static class JinjaTestFunctions
{
    public static bool Exists(string name) => name is "boolean" or "callable" or "odd" or "even" or "false" or "true" or "none"
        or "string" or "number" or "integer" or "iterable" or "mapping" or "sequence" or "lower" or "upper" or "defined"
        or "undefined" or "equalto" or "eq";

    public static bool Run(string name, JinjaValue v, JinjaValue arg) => name switch
    {
        "boolean" => v is JinjaBool,
        "callable" => v is JinjaFunction,
        "odd" => v is JinjaInt i ? i.Value % 2 != 0 : throw new JinjaRuntimeException($"cannot odd on {v.TypeName}"),
        "even" => v is JinjaInt i ? i.Value % 2 == 0 : throw new JinjaRuntimeException($"cannot even on {v.TypeName}"),
        "false" => v is JinjaBool { Value: false },
        "true" => v is JinjaBool { Value: true },
        "none" => v is JinjaNone,
        "string" => v is JinjaString,
        "number" => v is JinjaInt or JinjaFloat,
        "integer" => v is JinjaInt,
        "iterable" => v is JinjaArray { TypeName: "ArrayValue" } or JinjaString,
        "mapping" => v is JinjaObject o && JinjaFilters.IsMapping(o),
        "sequence" => v is JinjaArray or JinjaString || v is JinjaObject m && JinjaFilters.IsMapping(m),
        "lower" => v is JinjaString s && s.Value == s.Value.ToLowerInvariant(),
        "upper" => v is JinjaString s && s.Value == s.Value.ToUpperInvariant(),
        "defined" => v is not JinjaUndefined,
        "undefined" => v is JinjaUndefined,
        "equalto" or "eq" => JinjaCompare.StrictEquals(v, arg),
        _ => throw new JinjaRuntimeException($"unknown test '{name}'"),
    };
}
