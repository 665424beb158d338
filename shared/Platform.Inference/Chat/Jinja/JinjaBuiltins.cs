using System.Text;
using System.Text.RegularExpressions;

namespace Platform.Inference.Chat.Jinja;

/// <summary>
/// Attributes of strings (Python's str methods that chat templates call: strip, split, startswith, replace...) and
/// of mappings (get, items, keys, values, dictsort). As in the reference, strip/lstrip/rstrip take no characters
/// argument into account: they remove whitespace.
/// </summary>
internal static partial class JinjaBuiltins
{
    [GeneratedRegex(@"\b\w", RegexOptions.ECMAScript)]
    private static partial Regex WordStart();

    public static string Title(string s) => WordStart().Replace(s, m => m.Value.ToUpperInvariant());

    public static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..];

    private static JinjaFunction Fn(Func<IReadOnlyList<JinjaValue>, JinjaValue> f) => new((args, _) => f(args));

    public static JinjaValue? ForString(JinjaString str, string name)
    {
        string s = str.Value;
        return name switch
        {
            "upper" => Fn(_ => new JinjaString(s.ToUpperInvariant())),
            "lower" => Fn(_ => new JinjaString(s.ToLowerInvariant())),
            "strip" => Fn(_ => new JinjaString(JsText.Trim(s))),
            "lstrip" => Fn(_ => new JinjaString(JsText.TrimStart(s))),
            "rstrip" => Fn(_ => new JinjaString(JsText.TrimEnd(s))),
            "title" => Fn(_ => new JinjaString(Title(s))),
            "capitalize" => Fn(_ => new JinjaString(Capitalize(s))),
            "length" => new JinjaInt(s.Length),
            "startswith" => Fn(args => JinjaValue.Bool(Affix(s, args, "startswith", (x, p) => x.StartsWith(p, StringComparison.Ordinal)))),
            "endswith" => Fn(args => JinjaValue.Bool(Affix(s, args, "endswith", (x, p) => x.EndsWith(p, StringComparison.Ordinal)))),
            "split" => Fn(args => Split(s, args)),
            "replace" => Fn(args => Replace(s, args)),
            _ => null,
        };
    }

    private static bool Affix(string s, IReadOnlyList<JinjaValue> args, string name, Func<string, string, bool> test)
    {
        if (args.Count == 0) throw new JinjaRuntimeException($"{name}() requires at least one argument");
        switch (args[0])
        {
            case JinjaString p: return test(s, p.Value);
            case JinjaArray a:
                foreach (var item in a.Items)
                {
                    if (item is not JinjaString ps) throw new JinjaRuntimeException($"{name}() tuple elements must be strings");
                    if (test(s, ps.Value)) return true;
                }
                return false;
            default: throw new JinjaRuntimeException($"{name}() argument must be a string or tuple of strings");
        }
    }

    /// <summary>Python's str.split(sep=None, maxsplit=-1).</summary>
    private static JinjaValue Split(string s, IReadOnlyList<JinjaValue> args)
    {
        var sep = args.Count > 0 ? args[0] : JinjaValue.None;
        var maxArg = args.Count > 1 ? args[1] : new JinjaInt(-1);
        if (sep is not (JinjaString or JinjaNone)) throw new JinjaRuntimeException("sep argument must be a string or null");
        if (maxArg is not JinjaInt maxsplit) throw new JinjaRuntimeException("maxsplit argument must be a number");
        var result = new List<string>();
        if (sep is JinjaNone)
        {
            string text = JsText.TrimStart(s);
            int i = 0;
            while (i < text.Length)
            {
                while (i < text.Length && JsText.IsJsWhiteSpace(text[i])) i++;
                if (i >= text.Length) break;
                int start = i;
                while (i < text.Length && !JsText.IsJsWhiteSpace(text[i])) i++;
                if (maxsplit.Value != -1 && result.Count >= maxsplit.Value) { result.Add(text[start..]); break; }
                result.Add(text[start..i]);
            }
        }
        else
        {
            string separator = ((JinjaString)sep).Value;
            if (separator.Length == 0) throw new JinjaRuntimeException("empty separator");
            result.AddRange(s.Split(separator));
            if (maxsplit.Value != -1 && result.Count > maxsplit.Value)
            {
                int keep = (int)Math.Max(0, maxsplit.Value);
                string rest = string.Join(separator, result.Skip(keep));
                result = [.. result.Take(keep), rest];
            }
        }
        return new JinjaArray(result.Select(x => (JinjaValue)new JinjaString(x)).ToList());
    }

    /// <summary>str.replace(old, new, count=None); count may come as a keyword.</summary>
    public static JinjaValue Replace(string s, IReadOnlyList<JinjaValue> args)
    {
        if (args.Count < 2) throw new JinjaRuntimeException("replace() requires at least two arguments");
        if (args[0] is not JinjaString oldValue || args[1] is not JinjaString newValue) throw new JinjaRuntimeException("replace() arguments must be strings");
        JinjaValue count = JinjaValue.None;
        if (args.Count > 2)
            count = args[2] is JinjaKeywordArgs kw ? (kw.TryGet("count", out var c) ? c : JinjaValue.None) : args[2];
        if (count is not (JinjaInt or JinjaNone)) throw new JinjaRuntimeException("replace() count argument must be a number or null");
        long remaining = count is JinjaInt n ? (n.Value < 0 ? long.MaxValue : n.Value) : long.MaxValue;
        if (remaining == 0) return new JinjaString(s);
        var sb = new StringBuilder();
        if (oldValue.Value.Length == 0)
        {
            // Python inserts the replacement before every code point and at the end.
            var points = JsText.CodePoints(s);
            foreach (var p in points)
            {
                if (remaining-- > 0) sb.Append(newValue.Value);
                sb.Append(p);
            }
            if (remaining > 0) sb.Append(newValue.Value);
            return new JinjaString(sb.ToString());
        }
        int pos = 0;
        while (remaining > 0)
        {
            int at = s.IndexOf(oldValue.Value, pos, StringComparison.Ordinal);
            if (at < 0) break;
            sb.Append(s, pos, at - pos).Append(newValue.Value);
            pos = at + oldValue.Value.Length;
            remaining--;
        }
        sb.Append(s, pos, s.Length - pos);
        return new JinjaString(sb.ToString());
    }

    public static JinjaValue? ForObject(JinjaObject o, string name) => name switch
    {
        "get" => Fn(args =>
        {
            if (args.Count == 0 || args[0] is not JinjaString key) throw new JinjaRuntimeException($"object key must be a string: got {(args.Count == 0 ? "nothing" : args[0].TypeName)}");
            return o.TryGet(key.Value, out var v) ? v : args.Count > 1 ? args[1] : JinjaValue.None;
        }),
        "items" => Fn(_ => Items(o)),
        "keys" => Fn(_ => new JinjaArray(o.Keys.Select(k => (JinjaValue)new JinjaString(k)).ToList())),
        "values" => Fn(_ => new JinjaArray(o.Entries.Select(e => e.Value).ToList())),
        "dictsort" => Fn(args => DictSort(o, args)),
        _ => null,
    };

    public static JinjaArray Items(JinjaObject o) =>
        new(o.Entries.Select(e => (JinjaValue)new JinjaArray([new JinjaString(e.Key), e.Value])).ToList());

    private static JinjaValue DictSort(JinjaObject o, IReadOnlyList<JinjaValue> args)
    {
        var positional = args.Where(a => a is not JinjaKeywordArgs).ToList();
        var kwargs = args.OfType<JinjaKeywordArgs>().LastOrDefault() ?? new JinjaKeywordArgs();
        JinjaValue Arg(int i, string name, JinjaValue fallback) =>
            i < positional.Count ? positional[i] : kwargs.TryGet(name, out var v) ? v : fallback;
        if (Arg(0, "case_sensitive", JinjaValue.False) is not JinjaBool caseSensitive) throw new JinjaRuntimeException("case_sensitive must be a boolean");
        if (Arg(1, "by", new JinjaString("key")) is not JinjaString { Value: "key" or "value" } by) throw new JinjaRuntimeException("by must be either 'key' or 'value'");
        if (Arg(2, "reverse", JinjaValue.False) is not JinjaBool reverse) throw new JinjaRuntimeException("reverse must be a boolean");
        int index = by.Value == "key" ? 0 : 1;
        var items = Items(o).Items;
        var sorted = items.Order(Comparer<JinjaValue>.Create((a, b) =>
        {
            int r = JinjaCompare.Compare(((JinjaArray)a).Items[index], ((JinjaArray)b).Items[index], caseSensitive.Value);
            return reverse.Value ? -r : r;
        })).ToList();
        return new JinjaArray(sorted);
    }
}
