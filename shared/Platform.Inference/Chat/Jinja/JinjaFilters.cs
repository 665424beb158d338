using System.Globalization;

namespace Platform.Inference.Chat.Jinja;

/// <summary>
/// The filters (<c>value | name</c> and <c>value | name(args)</c>) with the reference's per-type definitions:
/// tojson (Python json.dumps layout, indent/separators/sort_keys/ensure_ascii), trim, length, items, upper/lower,
/// title, capitalize, default, join, indent, selectattr/rejectattr, map(attribute=...), sort, unique, first, last,
/// reverse, list, string, int, float, abs, replace, dictsort, safe.
/// </summary>
internal static class JinjaFilters
{
    /// <summary>A mapping in the reference's sense: objects and keyword arguments, not namespace() objects.</summary>
    public static bool IsMapping(JinjaObject o) => o is not JinjaNamespace;

    private static JinjaRuntimeException Unknown(string kind, string name) => new($"unknown {kind} filter: {name}");

    public static JinjaValue Apply(JinjaInterpreter interpreter, JinjaValue operand, Node filterNode, JinjaScope scope)
    {
        if (filterNode is IdentifierNode id) return ApplySimple(operand, id.Name);
        if (filterNode is CallNode { Callee: IdentifierNode callee } call)
            return ApplyWithArguments(interpreter, operand, callee.Name, call, scope);
        throw new JinjaRuntimeException("invalid filter");
    }

    private static JinjaValue ApplySimple(JinjaValue operand, string name)
    {
        if (name == "safe") return operand;
        if (name == "tojson") return new JinjaString(JinjaJson.Serialize(operand, new JinjaJson.Options(), 0, undefinedAsNull: true));
        switch (operand)
        {
            case JinjaArray a:
                return name switch
                {
                    "list" => a,
                    "first" => a.Items.Count > 0 ? a.Items[0] : JinjaValue.Undefined,
                    "last" => a.Items.Count > 0 ? a.Items[^1] : JinjaValue.Undefined,
                    "length" => new JinjaInt(a.Items.Count),
                    "reverse" => new JinjaArray(Enumerable.Reverse(a.Items).ToList()),
                    "sort" => new JinjaArray(a.Items.Order(Comparer<JinjaValue>.Create((x, y) => JinjaCompare.Compare(x, y, false))).ToList()),
                    "join" => new JinjaString(string.Concat(a.Items.Select(JsText.JoinPart))),
                    "string" => new JinjaString(JinjaJson.Serialize(a, new JinjaJson.Options(), 0, undefinedAsNull: false)),
                    "unique" => new JinjaArray(a.Items.DistinctBy(JinjaCompare.StrictKey).ToList()),
                    _ => throw Unknown("ArrayValue", name),
                };
            case JinjaString s:
                return name switch
                {
                    "length" => new JinjaInt(s.Value.Length),
                    "upper" => new JinjaString(s.Value.ToUpperInvariant()),
                    "lower" => new JinjaString(s.Value.ToLowerInvariant()),
                    "title" => new JinjaString(JinjaBuiltins.Title(s.Value)),
                    "capitalize" => new JinjaString(JinjaBuiltins.Capitalize(s.Value)),
                    "trim" => new JinjaString(JsText.Trim(s.Value)),
                    "indent" => new JinjaString(Indent(s.Value, 4, first: false, blank: false)),
                    "join" or "string" => s,
                    "int" => ParseIntPrefix(s.Value) is { } i ? new JinjaInt(i) : new JinjaInt(0),
                    "float" => ParseFloatPrefix(s.Value) is { } f ? new JinjaFloat(f) : new JinjaFloat(0),
                    _ => throw Unknown("StringValue", name),
                };
            case JinjaInt or JinjaFloat:
                return name switch
                {
                    "abs" => operand is JinjaInt i ? new JinjaInt(Math.Abs(i.Value)) : new JinjaFloat(Math.Abs(((JinjaFloat)operand).Value)),
                    "int" => operand is JinjaInt ? operand : new JinjaInt((long)Math.Floor(((JinjaFloat)operand).Value)),
                    "float" => new JinjaFloat(JinjaInterpreter.NumericValue(operand)),
                    "string" => new JinjaString(operand.Render()),
                    _ => throw Unknown("NumericValue", name),
                };
            case JinjaObject o when IsMapping(o):
                if (name == "items") return JinjaBuiltins.Items(o);
                if (name == "length") return new JinjaInt(o.Count);
                return JinjaBuiltins.ForObject(o, name) switch
                {
                    JinjaFunction f => f.Call([], new JinjaScope()),
                    { } v => v,
                    null => throw Unknown("ObjectValue", name),
                };
            case JinjaBool b:
                return name switch
                {
                    "bool" => b,
                    "int" => new JinjaInt(b.Value ? 1 : 0),
                    "float" => new JinjaFloat(b.Value ? 1 : 0),
                    "string" => new JinjaString(b.Value ? "true" : "false"),
                    _ => throw Unknown("BooleanValue", name),
                };
        }
        throw new JinjaRuntimeException($"cannot apply filter \"{name}\" to type: {operand.TypeName}");
    }

    private static JinjaValue ApplyWithArguments(JinjaInterpreter interpreter, JinjaValue operand, string name, CallNode call, JinjaScope scope)
    {
        var (args, kwargs) = interpreter.EvaluateArguments(call.Args, scope);
        JinjaValue Arg(int i, string key, JinjaValue fallback) => i < args.Count ? args[i] : kwargs.TryGet(key, out var v) ? v : fallback;
        JinjaValue Kw(string key, JinjaValue fallback) => kwargs.TryGet(key, out var v) ? v : fallback;
        switch (name)
        {
            case "tojson":
            {
                var indentValue = Kw("indent", JinjaValue.None);
                if (indentValue is not (JinjaInt or JinjaNone)) throw new JinjaRuntimeException("if set, indent must be a number");
                if (Kw("ensure_ascii", JinjaValue.False) is not JinjaBool ensureAscii) throw new JinjaRuntimeException("if set, ensure_ascii must be a boolean");
                if (Kw("sort_keys", JinjaValue.False) is not JinjaBool sortKeys) throw new JinjaRuntimeException("if set, sort_keys must be a boolean");
                (string, string)? separators = null;
                switch (Kw("separators", JinjaValue.None))
                {
                    case JinjaArray { Items.Count: 2 } sep when sep.Items[0] is JinjaString item && sep.Items[1] is JinjaString key:
                        separators = (item.Value, key.Value);
                        break;
                    case JinjaNone: break;
                    default: throw new JinjaRuntimeException("separators must be a tuple of two strings");
                }
                int? indent = indentValue is JinjaInt n ? (int)n.Value : null;
                return new JinjaString(JinjaJson.Serialize(operand, new JinjaJson.Options(indent, ensureAscii.Value, separators, sortKeys.Value), 0, undefinedAsNull: true));
            }
            case "join":
            {
                IEnumerable<string> parts = operand switch
                {
                    JinjaString s => JsText.CodePoints(s.Value),
                    JinjaArray a => a.Items.Select(JsText.JoinPart),
                    _ => throw new JinjaRuntimeException($"cannot apply filter \"join\" to type: {operand.TypeName}"),
                };
                if (Arg(0, "separator", new JinjaString("")) is not JinjaString separator) throw new JinjaRuntimeException("separator must be a string");
                return new JinjaString(string.Join(separator.Value, parts));
            }
            case "int" or "float":
            {
                bool isInt = name == "int";
                var fallback = Arg(0, "default", isInt ? new JinjaInt(0) : new JinjaFloat(0));
                return operand switch
                {
                    JinjaString s when isInt => ParseIntPrefix(s.Value) is { } i ? new JinjaInt(i) : fallback,
                    JinjaString s => ParseFloatPrefix(s.Value) is { } f ? new JinjaFloat(f) : fallback,
                    JinjaInt or JinjaFloat => operand,
                    JinjaBool b => isInt ? new JinjaInt(b.Value ? 1 : 0) : new JinjaFloat(b.Value ? 1 : 0),
                    _ => throw new JinjaRuntimeException($"cannot apply filter \"{name}\" to type: {operand.TypeName}"),
                };
            }
            case "default" or "d":
            {
                var fallback = args.Count > 0 ? args[0] : new JinjaString("");
                if ((args.Count > 1 ? args[1] : Kw("boolean", JinjaValue.False)) is not JinjaBool boolean) throw new JinjaRuntimeException("the default filter's flag must be a boolean");
                return operand is JinjaUndefined || (boolean.Value && !operand.IsTruthy) ? fallback : operand;
            }
        }
        switch (operand)
        {
            case JinjaArray a:
                switch (name)
                {
                    case "sort":
                    {
                        if (Arg(0, "reverse", JinjaValue.False) is not JinjaBool reverse) throw new JinjaRuntimeException("reverse must be a boolean");
                        if (Arg(1, "case_sensitive", JinjaValue.False) is not JinjaBool caseSensitive) throw new JinjaRuntimeException("case_sensitive must be a boolean");
                        var attribute = Arg(2, "attribute", JinjaValue.None);
                        if (attribute is not (JinjaString or JinjaInt or JinjaNone)) throw new JinjaRuntimeException("attribute must be a string, integer, or null");
                        JinjaValue Key(JinjaValue item) => attribute switch
                        {
                            JinjaNone => item,
                            JinjaInt i => AttributePath(item, i.Value.ToString(CultureInfo.InvariantCulture)),
                            _ => AttributePath(item, ((JinjaString)attribute).Value),
                        };
                        return new JinjaArray(a.Items.Order(Comparer<JinjaValue>.Create((x, y) =>
                        {
                            int r = JinjaCompare.Compare(Key(x), Key(y), caseSensitive.Value);
                            return reverse.Value ? -r : r;
                        })).ToList());
                    }
                    case "selectattr" or "rejectattr":
                    {
                        bool select = name == "selectattr";
                        if (a.Items.Any(x => x is not JinjaObject)) throw new JinjaRuntimeException($"{name} can only be applied to an array of objects");
                        if (call.Args.Any(x => x is not StringLiteral)) throw new JinjaRuntimeException($"arguments of {name} must be strings");
                        string attr = ((JinjaString)args[0]).Value;
                        string? testName = args.Count > 1 ? ((JinjaString)args[1]).Value : null;
                        var testArg = args.Count > 2 ? args[2] : JinjaValue.Undefined;
                        if (testName is not null && !JinjaTestFunctions.Exists(testName)) throw new JinjaRuntimeException($"unknown test '{testName}'");
                        var kept = a.Items.Where(item =>
                        {
                            bool result = ((JinjaObject)item).TryGet(attr, out var v)
                                && (testName is null ? v.IsTruthy : JinjaTestFunctions.Run(testName, v, testArg));
                            return select ? result : !result;
                        }).ToList();
                        return new JinjaArray(kept);
                    }
                    case "map":
                    {
                        if (!kwargs.TryGet("attribute", out var attrValue)) throw new JinjaRuntimeException("map without attribute= is not supported");
                        if (attrValue is not JinjaString attr) throw new JinjaRuntimeException("attribute must be a string");
                        var fallback = Kw("default", JinjaValue.Undefined);
                        return new JinjaArray(a.Items.Select(item =>
                        {
                            if (item is not JinjaObject) throw new JinjaRuntimeException("items in map must be objects");
                            var v = AttributePath(item, attr.Value);
                            return v is JinjaUndefined ? fallback : v;
                        }).ToList());
                    }
                }
                throw Unknown("ArrayValue", name);
            case JinjaString s:
                switch (name)
                {
                    case "indent":
                    {
                        if (Arg(0, "width", new JinjaInt(4)) is not JinjaInt width) throw new JinjaRuntimeException("width must be a number");
                        var first = Arg(1, "first", JinjaValue.False);
                        var blank = Arg(2, "blank", JinjaValue.False);
                        return new JinjaString(Indent(s.Value, (int)width.Value, first.IsTruthy, blank.IsTruthy));
                    }
                    case "replace":
                        return JinjaBuiltins.Replace(s.Value, [.. args, kwargs]);
                }
                throw Unknown("StringValue", name);
            case JinjaObject o when IsMapping(o):
                if (JinjaBuiltins.ForObject(o, name) is JinjaFunction fn)
                {
                    var callArgs = args.ToList();
                    if (kwargs.Count > 0) callArgs.Add(kwargs);
                    return fn.Call(callArgs, scope);
                }
                throw Unknown("ObjectValue", name);
        }
        throw new JinjaRuntimeException($"cannot apply filter \"{name}\" to type: {operand.TypeName}");
    }

    private static string Indent(string s, int width, bool first, bool blank)
    {
        string pad = new(' ', Math.Max(0, width));
        var lines = s.Split('\n');
        for (int i = 0; i < lines.Length; i++)
            if (!((!first && i == 0) || (!blank && lines[i].Length == 0))) lines[i] = pad + lines[i];
        return string.Join("\n", lines);
    }

    /// <summary>Dotted attribute lookup ("a.b.0") through objects and arrays; undefined where a step is missing.</summary>
    private static JinjaValue AttributePath(JinjaValue item, string path)
    {
        var value = item;
        foreach (var part in path.Split('.'))
        {
            if (value is JinjaObject o) value = o.TryGet(part, out var v) ? v : JinjaValue.Undefined;
            else if (value is JinjaArray a)
            {
                if (ParseIntPrefix(part) is { } i && i >= 0 && i < a.Items.Count) value = a.Items[(int)i];
                else return JinjaValue.Undefined;
            }
            else return JinjaValue.Undefined;
        }
        return value;
    }

    /// <summary>JavaScript's parseInt(s, 10): optional whitespace and sign, then the leading digits.</summary>
    internal static long? ParseIntPrefix(string s)
    {
        string t = JsText.TrimStart(s);
        int i = 0;
        bool negative = false;
        if (i < t.Length && t[i] is '+' or '-') { negative = t[i] == '-'; i++; }
        int start = i;
        while (i < t.Length && char.IsAsciiDigit(t[i])) i++;
        if (i == start) return null;
        return long.TryParse(t[start..i], NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? (negative ? -v : v) : null;
    }

    /// <summary>JavaScript's parseFloat: the longest leading decimal literal (or Infinity).</summary>
    internal static double? ParseFloatPrefix(string s)
    {
        string t = JsText.TrimStart(s);
        int i = 0;
        if (i < t.Length && t[i] is '+' or '-') i++;
        if (string.CompareOrdinal(t, i, "Infinity", 0, 8) == 0) return t[0] == '-' ? double.NegativeInfinity : double.PositiveInfinity;
        int digitsStart = i;
        while (i < t.Length && char.IsAsciiDigit(t[i])) i++;
        bool any = i > digitsStart;
        if (i < t.Length && t[i] == '.')
        {
            int fracStart = ++i;
            while (i < t.Length && char.IsAsciiDigit(t[i])) i++;
            any |= i > fracStart;
            if (!any) return null;
        }
        if (!any) return null;
        if (i < t.Length && t[i] is 'e' or 'E')
        {
            int save = i++;
            if (i < t.Length && t[i] is '+' or '-') i++;
            int expStart = i;
            while (i < t.Length && char.IsAsciiDigit(t[i])) i++;
            if (i == expStart) i = save;
        }
        return double.Parse(t[..i], NumberStyles.Float, CultureInfo.InvariantCulture);
    }
}
