using System.Text;
using System.Text.Json;

namespace Platform.Batch;

/// <summary>
/// Strings the platform refuses at its edge: a NUL character (PostgreSQL's text type cannot hold it, and ids or
/// names with one break every tool they reach) and a lone UTF-16 surrogate (valid as a JSON escape such as "\ud800",
/// but no UTF-8 encoder can write it, so System.Text.Json throws InvalidOperationException when it decodes one).
/// </summary>
public static class UnsafeText
{
    public const string Nul = "a NUL character";
    public const string LoneSurrogate = "a lone UTF-16 surrogate";

    /// <summary>What is wrong with <paramref name="s"/>, or null when nothing is.</summary>
    public static string? Problem(string? s)
    {
        if (s is null) return null;
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (c == '\0') return Nul;
            if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) { i++; continue; }
            if (char.IsSurrogate(c)) return LoneSurrogate;
        }
        return null;
    }

    /// <summary>Reads a JSON string, reporting a lone surrogate instead of throwing.</summary>
    public static bool TryGetString(JsonElement e, out string value, out string? problem)
    {
        try
        {
            value = e.GetString() ?? "";
        }
        catch (InvalidOperationException) when (e.ValueKind == JsonValueKind.String)
        {
            value = "";
            problem = LoneSurrogate;
            return false;
        }
        problem = Problem(value);
        return problem is null;
    }

    /// <summary>
    /// The first string or property name in <paramref name="e"/> that holds NUL (when <paramref name="nul"/>) or a lone
    /// surrogate: its JSON path below the root ("metadata.key", "items[2]") and the problem; null when there is none.
    /// </summary>
    public static (string Path, string Problem)? Find(JsonElement e, bool nul = true, string path = "")
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.String:
                return TryGetString(e, out _, out var p) || (!nul && p == Nul) ? null : (path, p!);
            case JsonValueKind.Object:
                foreach (var property in e.EnumerateObject())
                {
                    string name;
                    try { name = property.Name; }
                    catch (InvalidOperationException) { return (Join(path, "?"), LoneSurrogate); }
                    if (Problem(name) is { } bad && (nul || bad != Nul)) return (Join(path, Printable(name)), bad);
                    if (Find(property.Value, nul, Join(path, name)) is { } inner) return inner;
                }
                return null;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in e.EnumerateArray())
                    if (Find(item, nul, $"{path}[{i++}]") is { } inner) return inner;
                return null;
            default:
                return null;
        }
    }

    /// <summary>The top-level field of a path ("metadata.k" -> "metadata"), for OpenAI's "param".</summary>
    public static string TopLevel(string path)
    {
        var end = path.IndexOfAny(['.', '[']);
        return end < 0 ? path : path[..end];
    }

    /// <summary><paramref name="s"/> with NUL, other control characters and lone surrogates shown as U+FFFD, safe to echo.</summary>
    public static string Printable(string s)
    {
        var sb = new StringBuilder(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) { sb.Append(c).Append(s[++i]); continue; }
            sb.Append(char.IsSurrogate(c) || char.IsControl(c) ? '\uFFFD' : c);
        }
        return sb.ToString();
    }

    private static string Join(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";
}
