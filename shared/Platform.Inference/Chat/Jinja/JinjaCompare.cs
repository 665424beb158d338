using System.Globalization;

namespace Platform.Inference.Chat.Jinja;

/// <summary>Equality and ordering as the reference computes them (JavaScript's == and ===, its sort comparator).</summary>
internal static class JinjaCompare
{
    private static bool IsNullish(JinjaValue v) => v is JinjaNone or JinjaUndefined;
    private static bool IsContainer(JinjaValue v) => v is JinjaArray or JinjaObject or JinjaFunction;

    /// <summary>JavaScript's == on the underlying values: containers by identity, strings and booleans coerced to numbers.</summary>
    public static bool LooseEquals(JinjaValue a, JinjaValue b)
    {
        if (IsNullish(a) || IsNullish(b)) return IsNullish(a) && IsNullish(b);
        if (IsContainer(a) || IsContainer(b)) return ReferenceEquals(a, b);
        if (a is JinjaString sa && b is JinjaString sb) return sa.Value == sb.Value;
        if (a is JinjaBool ba && b is JinjaBool bb) return ba.Value == bb.Value;
        return ToNumber(a) == ToNumber(b);
    }

    /// <summary>JavaScript's === on the underlying values (membership tests, equalto, unique).</summary>
    public static bool StrictEquals(JinjaValue a, JinjaValue b)
    {
        if (IsNullish(a) || IsNullish(b)) return IsNullish(a) && IsNullish(b);
        if (IsContainer(a) || IsContainer(b)) return ReferenceEquals(a, b);
        return (a, b) switch
        {
            (JinjaString x, JinjaString y) => x.Value == y.Value,
            (JinjaBool x, JinjaBool y) => x.Value == y.Value,
            (JinjaInt or JinjaFloat, JinjaInt or JinjaFloat) => JinjaInterpreter.NumericValue(a) == JinjaInterpreter.NumericValue(b),
            _ => false,
        };
    }

    /// <summary>A key for set membership matching StrictEquals (unique filter).</summary>
    public static object StrictKey(JinjaValue v) => v switch
    {
        JinjaNone or JinjaUndefined => "\0undefined",
        JinjaString s => "s" + s.Value,
        JinjaBool b => b.Value,
        JinjaInt or JinjaFloat => JinjaInterpreter.NumericValue(v),
        _ => v,
    };

    /// <summary>ToNumber (ECMA-262 7.1.4) for scalars.</summary>
    public static double ToNumber(JinjaValue v)
    {
        switch (v)
        {
            case JinjaInt i: return i.Value;
            case JinjaFloat f: return f.Value;
            case JinjaBool b: return b.Value ? 1 : 0;
            case JinjaString s:
            {
                string t = JsText.Trim(s.Value);
                if (t.Length == 0) return 0;
                if (t is "Infinity" or "+Infinity") return double.PositiveInfinity;
                if (t == "-Infinity") return double.NegativeInfinity;
                if (t.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
                    return long.TryParse(t[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var h) ? h : double.NaN;
                if (t.Any(c => !(char.IsAsciiDigit(c) || c is '.' or 'e' or 'E' or '+' or '-'))) return double.NaN;
                return double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : double.NaN;
            }
            default: return double.NaN;
        }
    }

    /// <summary>The reference's sort comparator: numbers (and booleans) numerically, strings by UTF-16 code units.</summary>
    public static int Compare(JinjaValue a, JinjaValue b, bool caseSensitive)
    {
        if (a is JinjaNone && b is JinjaNone) return 0;
        if (a is JinjaNone || b is JinjaNone) throw new JinjaRuntimeException($"cannot compare {a.TypeName} with {b.TypeName}");
        if (a is JinjaUndefined && b is JinjaUndefined) return 0;
        if (a is JinjaUndefined || b is JinjaUndefined) throw new JinjaRuntimeException($"cannot compare {a.TypeName} with {b.TypeName}");
        if (JinjaInterpreter.IsNumericLike(a) && JinjaInterpreter.IsNumericLike(b))
            return JinjaInterpreter.NumericValue(a).CompareTo(JinjaInterpreter.NumericValue(b));
        if (a.GetType() != b.GetType()) throw new JinjaRuntimeException($"cannot compare different types: {a.TypeName} and {b.TypeName}");
        if (a is JinjaString sa && b is JinjaString sb)
        {
            string x = caseSensitive ? sa.Value : sa.Value.ToLowerInvariant();
            string y = caseSensitive ? sb.Value : sb.Value.ToLowerInvariant();
            return Math.Sign(string.CompareOrdinal(x, y));
        }
        throw new JinjaRuntimeException($"cannot compare type: {a.TypeName}");
    }
}
