using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Platform.Inference.Chat.Jinja;

/// <summary>
/// A value inside a template. The kinds and their conversions follow @huggingface/jinja (the implementation
/// transformers.js renders chat templates with, and the one our tests diff against): integers and floats are
/// distinct kinds, booleans print as "true"/"false", containers print as JSON, and <c>none</c> and undefined
/// values print nothing.
/// </summary>
public abstract class JinjaValue
{
    public static readonly JinjaUndefined Undefined = new();
    public static readonly JinjaNone None = new();
    public static readonly JinjaBool True = new(true);
    public static readonly JinjaBool False = new(false);

    /// <summary>Name used in error messages (the reference's type names, so messages read alike).</summary>
    public abstract string TypeName { get; }

    public virtual bool IsTruthy => true;

    /// <summary>The text <c>{{ value }}</c> writes.</summary>
    public virtual string Render() => JsString();

    /// <summary>The text JavaScript's String(value) gives for the underlying value (used by <c>~</c> and <c>+</c>).</summary>
    public abstract string JsString();

    public static JinjaBool Bool(bool b) => b ? True : False;

    public static JinjaValue FromJson(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Null => None,
        JsonValueKind.True => True,
        JsonValueKind.False => False,
        JsonValueKind.String => new JinjaString(e.GetString()!),
        JsonValueKind.Number => FromNumber(e.GetDouble()),
        JsonValueKind.Array => new JinjaArray(e.EnumerateArray().Select(FromJson).ToList()),
        JsonValueKind.Object => FromProperties(e.EnumerateObject().Select(p => (p.Name, FromJson(p.Value)))),
        _ => Undefined,
    };

    /// <summary>A number is an integer when it has no fraction, as JavaScript's Number.isInteger decides.</summary>
    public static JinjaValue FromNumber(double d) =>
        Math.Floor(d) == d && Math.Abs(d) < 9.007199254740992e15 ? new JinjaInt((long)d) : new JinjaFloat(d);

    public static JinjaObject FromProperties(IEnumerable<(string Key, JinjaValue Value)> properties)
    {
        var o = new JinjaObject();
        foreach (var (k, v) in properties) o.Set(k, v);
        return o;
    }
}

public sealed class JinjaUndefined : JinjaValue
{
    internal JinjaUndefined() { }
    public override string TypeName => "UndefinedValue";
    public override bool IsTruthy => false;
    public override string JsString() => "undefined";
}

public sealed class JinjaNone : JinjaValue
{
    internal JinjaNone() { }
    public override string TypeName => "NullValue";
    public override bool IsTruthy => false;
    public override string JsString() => "null";
}

public sealed class JinjaBool(bool value) : JinjaValue
{
    public bool Value { get; } = value;
    public override string TypeName => "BooleanValue";
    public override bool IsTruthy => Value;
    public override string JsString() => Value ? "true" : "false";
}

public sealed class JinjaInt(long value) : JinjaValue
{
    public long Value { get; } = value;
    public override string TypeName => "IntegerValue";
    public override bool IsTruthy => Value != 0;
    public override string JsString() => Value.ToString(CultureInfo.InvariantCulture);
}

public sealed class JinjaFloat(double value) : JinjaValue
{
    public double Value { get; } = value;
    public override string TypeName => "FloatValue";
    public override bool IsTruthy => Value != 0 && !double.IsNaN(Value);
    public override string JsString() => JsText.Number(Value);

    /// <summary>Floats print with a fraction (1.0), like Python.</summary>
    public override string Render()
    {
        if (Value == 0 && double.IsNegative(Value)) return "-0.0";
        return Value % 1 == 0 && !double.IsInfinity(Value) ? Value.ToString("F1", CultureInfo.InvariantCulture) : JsString();
    }
}

public sealed class JinjaString(string value) : JinjaValue
{
    public string Value { get; } = value;
    public override string TypeName => "StringValue";
    public override bool IsTruthy => Value.Length > 0;
    public override string JsString() => Value;
}

public class JinjaArray(List<JinjaValue> items) : JinjaValue
{
    public List<JinjaValue> Items { get; } = items;
    public override string TypeName => "ArrayValue";
    public override bool IsTruthy => Items.Count > 0;
    public override string Render() => JinjaJson.Serialize(this, new JinjaJson.Options(), 0, undefinedAsNull: false);
    /// <summary>JavaScript's Array.prototype.toString: the items' strings joined by commas, null and undefined empty.</summary>
    public override string JsString() => string.Join(",", Items.Select(JsText.JoinPart));
}

public sealed class JinjaTuple(List<JinjaValue> items) : JinjaArray(items)
{
    public override string TypeName => "TupleValue";
}

/// <summary>A mapping with insertion order (the order tojson and items() give).</summary>
public class JinjaObject : JinjaValue
{
    private readonly Dictionary<string, JinjaValue> _map = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];

    public override string TypeName => "ObjectValue";
    public override bool IsTruthy => _map.Count > 0;
    public int Count => _map.Count;
    public IEnumerable<string> Keys => _order;
    public IEnumerable<KeyValuePair<string, JinjaValue>> Entries => _order.Select(k => new KeyValuePair<string, JinjaValue>(k, _map[k]));

    public bool TryGet(string key, out JinjaValue value) => _map.TryGetValue(key, out value!);
    public bool ContainsKey(string key) => _map.ContainsKey(key);

    public void Set(string key, JinjaValue value)
    {
        if (!_map.ContainsKey(key)) _order.Add(key);
        _map[key] = value;
    }

    public bool Remove(string key)
    {
        if (!_map.Remove(key)) return false;
        _order.Remove(key);
        return true;
    }

    public override string Render() => JinjaJson.Serialize(this, new JinjaJson.Options(), 0, undefinedAsNull: false);
    public override string JsString() => "[object Map]";
}

/// <summary>Keyword arguments passed to a function or macro (a mapping the callee takes apart).</summary>
public sealed class JinjaKeywordArgs : JinjaObject
{
    public override string TypeName => "KeywordArgumentsValue";
}

/// <summary>The object <c>namespace(...)</c> makes: the one value a template can assign attributes on.</summary>
public sealed class JinjaNamespace : JinjaObject
{
    public override string TypeName => "NamespaceValue";
    public override bool IsTruthy => true;
}

public delegate JinjaValue JinjaCallable(IReadOnlyList<JinjaValue> args, JinjaScope scope);

public sealed class JinjaFunction(JinjaCallable call) : JinjaValue
{
    public JinjaCallable Call { get; } = call;
    public override string TypeName => "FunctionValue";
    public override string JsString() => "function";
}

/// <summary>JavaScript's string forms of numbers and JSON strings, which the reference's output is made of.</summary>
internal static class JsText
{
    /// <summary>Number::toString (ECMA-262 6.1.6.1.20): shortest round-trip digits, exponent outside [1e-7, 1e21).</summary>
    public static string Number(double d)
    {
        if (double.IsNaN(d)) return "NaN";
        if (double.IsPositiveInfinity(d)) return "Infinity";
        if (double.IsNegativeInfinity(d)) return "-Infinity";
        if (d == 0) return "0";
        string sign = d < 0 ? "-" : "";
        // Shortest digits: "R" gives them; parse its mantissa and exponent whatever notation it chose.
        string shortest = Math.Abs(d).ToString("R", CultureInfo.InvariantCulture);
        string digits;
        int exp10; // value = 0.digits * 10^exp10 (ECMA's n)
        int ePos = shortest.IndexOfAny(['E', 'e']);
        string mant = ePos >= 0 ? shortest[..ePos] : shortest;
        int expPart = ePos >= 0 ? int.Parse(shortest[(ePos + 1)..], CultureInfo.InvariantCulture) : 0;
        int dot = mant.IndexOf('.');
        string intPart = dot >= 0 ? mant[..dot] : mant;
        string fracPart = dot >= 0 ? mant[(dot + 1)..] : "";
        digits = (intPart + fracPart).TrimStart('0');
        int leadingZeros = (intPart + fracPart).Length - (intPart + fracPart).TrimStart('0').Length;
        exp10 = intPart.Length - leadingZeros + expPart;
        digits = digits.TrimEnd('0');
        if (digits.Length == 0) return "0";
        int k = digits.Length, n = exp10;
        string body;
        if (k <= n && n <= 21) body = digits + new string('0', n - k);
        else if (0 < n && n <= 21) body = digits[..n] + "." + digits[n..];
        else if (-6 < n && n <= 0) body = "0." + new string('0', -n) + digits;
        else
        {
            int e = n - 1;
            string es = (e >= 0 ? "+" : "-") + Math.Abs(e).ToString(CultureInfo.InvariantCulture);
            body = k == 1 ? digits + "e" + es : digits[..1] + "." + digits[1..] + "e" + es;
        }
        return sign + body;
    }

    /// <summary>JSON.stringify of a string: only quote, backslash and control characters are escaped.</summary>
    public static string Quote(string s, bool ensureAscii)
    {
        var sb = new StringBuilder(s.Length + 2).Append('"');
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    bool loneSurrogate = char.IsHighSurrogate(c) ? !(i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
                        : char.IsLowSurrogate(c) && !(i > 0 && char.IsHighSurrogate(s[i - 1]));
                    if (c < 0x20 || loneSurrogate) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else if (ensureAscii && c >= 0x7f) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    /// <summary>How Array.prototype.join writes one item.</summary>
    public static string JoinPart(JinjaValue v) => v is JinjaNone or JinjaUndefined ? "" : v.JsString();

    /// <summary>JavaScript's String.prototype.trim set: WhiteSpace and LineTerminator (ECMA-262 12.2, 12.3).</summary>
    public static bool IsJsWhiteSpace(char c) =>
        c is '\t' or '\n' or '\v' or '\f' or '\r' or ' ' or '\u00a0' or '\u1680' or '\u2028' or '\u2029' or '\u202f'
            or '\u205f' or '\u3000' or '\ufeff' || (c >= '\u2000' && c <= '\u200a');

    public static string Trim(string s) => TrimEnd(TrimStart(s));

    public static string TrimStart(string s)
    {
        int i = 0;
        while (i < s.Length && IsJsWhiteSpace(s[i])) i++;
        return s[i..];
    }

    public static string TrimEnd(string s)
    {
        int j = s.Length;
        while (j > 0 && IsJsWhiteSpace(s[j - 1])) j--;
        return s[..j];
    }

    /// <summary>Array.from(string): the string split into code points (surrogate pairs stay together).</summary>
    public static List<string> CodePoints(string s)
    {
        var result = new List<string>(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) { result.Add(s.Substring(i, 2)); i++; }
            else result.Add(s[i].ToString());
        }
        return result;
    }
}

/// <summary>The tojson filter: Python's json.dumps layout (", " and ": " separators, or "," with an indent).</summary>
internal static class JinjaJson
{
    public sealed record Options(int? Indent = null, bool EnsureAscii = false, (string Item, string Key)? Separators = null, bool SortKeys = false);

    public static string Serialize(JinjaValue v, Options o, int depth, bool undefinedAsNull)
    {
        var (itemSep, keySep) = o.Separators ?? (o.Indent is > 0 ? (",", ": ") : (", ", ": "));
        switch (v)
        {
            case JinjaNone: return "null";
            case JinjaUndefined: return undefinedAsNull ? "null" : "undefined";
            case JinjaBool b: return b.Value ? "true" : "false";
            case JinjaInt i: return i.Value.ToString(CultureInfo.InvariantCulture);
            case JinjaFloat f: return double.IsFinite(f.Value) ? JsText.Number(f.Value) : "null";
            case JinjaString s: return JsText.Quote(s.Value, o.EnsureAscii);
            // The reference has no JSON form for tuples (it fails on them); so do we rather than invent one.
            case JinjaTuple: throw new JinjaRuntimeException("Cannot convert to JSON: TupleValue");
            case JinjaArray a:
            {
                string indent = o.Indent is > 0 ? new string(' ', o.Indent.Value) : "";
                string basePad = "\n" + string.Concat(Enumerable.Repeat(indent, depth));
                string childPad = basePad + indent;
                var core = a.Items.Select(x => Serialize(x, o, depth + 1, undefinedAsNull)).ToList();
                return o.Indent is > 0 && core.Count > 0
                    ? "[" + childPad + string.Join(itemSep + childPad, core) + basePad + "]"
                    : "[" + string.Join(itemSep, core) + "]";
            }
            case JinjaObject obj:
            {
                string indent = o.Indent is > 0 ? new string(' ', o.Indent.Value) : "";
                string basePad = "\n" + string.Concat(Enumerable.Repeat(indent, depth));
                string childPad = basePad + indent;
                var entries = obj.Entries.ToList();
                if (o.SortKeys) entries.Sort((x, y) => string.Compare(x.Key, y.Key, StringComparison.OrdinalIgnoreCase) is var c && c != 0 ? c : string.CompareOrdinal(x.Key, y.Key));
                var core = entries.Select(e =>
                {
                    string item = JsText.Quote(e.Key, o.EnsureAscii) + keySep + Serialize(e.Value, o, depth + 1, undefinedAsNull);
                    return o.Indent is > 0 ? childPad + item : item;
                }).ToList();
                return o.Indent is > 0 && core.Count > 0
                    ? "{" + string.Join(itemSep, core) + basePad + "}"
                    : "{" + string.Join(itemSep, core) + "}";
            }
            default: throw new JinjaRuntimeException($"Cannot convert to JSON: {v.TypeName}");
        }
    }
}
