using System.Text;
using System.Text.Json.Nodes;

namespace Gateway.Tests.Security;

/// <summary>
/// Seeded hostile request bodies made from one valid body: random bytes, truncations, type swaps, deep nesting, NUL,
/// lone surrogates and invalid UTF-8, huge numbers, unknown and duplicate fields. The same seed gives the same bodies.
/// </summary>
public static class HostileBodies
{
    public static IEnumerable<(string Kind, byte[] Body)> From(string validJson, int seed, int count)
    {
        var random = new Random(seed);
        var valid = Encoding.UTF8.GetBytes(validJson);
        for (var i = 0; i < count; i++)
        {
            var kind = i % 8;
            yield return kind switch
            {
                0 => ("random-bytes", RandomBytes(random)),
                1 => ("truncated", valid[..random.Next(0, valid.Length)]),
                2 => ("type-swap", Encoding.UTF8.GetBytes(TypeSwap(validJson, random))),
                3 => ("nesting", Encoding.UTF8.GetBytes(Nested(validJson, random))),
                4 => ("nul-surrogate", BadText(validJson, random)),
                5 => ("huge-values", Encoding.UTF8.GetBytes(HugeValue(validJson, random))),
                6 => ("unknown-duplicate", Encoding.UTF8.GetBytes(ExtraFields(validJson, random))),
                _ => ("byte-flip", Flip(valid, random)),
            };
        }
    }

    private static byte[] RandomBytes(Random random)
    {
        var bytes = new byte[random.Next(0, 600)];
        random.NextBytes(bytes);
        // Half of them look like JSON at first, so they pass the first character.
        if (bytes.Length > 0 && random.Next(2) == 0) bytes[0] = (byte)'{';
        return bytes;
    }

    private static byte[] Flip(byte[] valid, Random random)
    {
        var copy = (byte[])valid.Clone();
        for (var k = random.Next(1, 6); k > 0 && copy.Length > 0; k--) copy[random.Next(copy.Length)] = (byte)random.Next(256);
        return copy;
    }

    private static readonly string[] Replacements =
    [
        "null", "true", "false", "0", "-1", "1.5", "1e400", "-1e400", "99999999999999999999999", "\"\"", "\"x\"", "[]", "{}",
        "[null]", "[[]]", "{\"a\":1}", "\"\\u0000\"", "\"\\ud800\"", "\"\\udfff\\ud800\"", "-0", "2147483648", "[1,2,3]",
    ];

    /// <summary>Replaces one value anywhere in the body (found by walking the parsed tree) with a value of another type.</summary>
    private static string TypeSwap(string json, Random random)
    {
        var root = JsonNode.Parse(json)!;
        var slots = new List<(JsonNode Parent, object Key)>();
        Collect(root, slots);
        if (slots.Count == 0) return json;
        var (parent, key) = slots[random.Next(slots.Count)];
        // Spliced in as text: JsonNode will not write a lone surrogate.
        const string marker = "__SWAP__";
        if (parent is JsonObject o) o[(string)key] = marker;
        else ((JsonArray)parent)[(int)key] = marker;
        return root.ToJsonString().Replace($"\"{marker}\"", Replacements[random.Next(Replacements.Length)], StringComparison.Ordinal);
    }

    private static void Collect(JsonNode node, List<(JsonNode, object)> slots)
    {
        if (node is JsonObject o)
            foreach (var (k, v) in o.ToList())
            {
                slots.Add((o, k));
                if (v is not null) Collect(v, slots);
            }
        else if (node is JsonArray a)
            for (var i = 0; i < a.Count; i++)
            {
                slots.Add((a, i));
                if (a[i] is { } v) Collect(v, slots);
            }
    }

    /// <summary>A deeply nested array or object in place of one field, or as the whole body.</summary>
    private static string Nested(string json, Random random)
    {
        var depth = random.Next(2) == 0 ? random.Next(60, 70) : random.Next(500, 5000);
        var open = random.Next(2) == 0 ? "[" : "{\"a\":";
        var close = open == "[" ? "]" : "}";
        var nested = string.Concat(Enumerable.Repeat(open, depth)) + "1" + string.Concat(Enumerable.Repeat(close, depth));
        if (random.Next(3) == 0) return nested;
        var root = JsonNode.Parse(json)!.AsObject();
        var keys = root.Select(p => p.Key).ToList();
        // Spliced in as text: JsonNode would refuse to write the deep value itself.
        root[keys[random.Next(keys.Count)]] = "__NESTED__";
        return root.ToJsonString().Replace("\"__NESTED__\"", nested, StringComparison.Ordinal);
    }

    /// <summary>NUL, escaped lone surrogates or raw invalid UTF-8 inside a string value or a property name.</summary>
    private static byte[] BadText(string json, Random random)
    {
        string[] escapes = ["\\u0000", "\\ud800", "\\udc00", "a\\ud83dz", "\\u0000\\ud800"];
        var quote = FindQuotes(json);
        if (quote.Count == 0) return Encoding.UTF8.GetBytes(json);
        var at = quote[random.Next(quote.Count)] + 1;
        if (random.Next(3) == 0)
        {
            // Raw bytes that are not UTF-8: a lone continuation byte, an encoded surrogate, an overlong NUL.
            byte[][] raw = [[0x80], [0xED, 0xA0, 0x80], [0xC0, 0x80], [0xFF, 0xFE]];
            var prefix = Encoding.UTF8.GetBytes(json[..at]);
            var suffix = Encoding.UTF8.GetBytes(json[at..]);
            return [.. prefix, .. raw[random.Next(raw.Length)], .. suffix];
        }
        return Encoding.UTF8.GetBytes(json[..at] + escapes[random.Next(escapes.Length)] + json[at..]);
    }

    private static List<int> FindQuotes(string json)
    {
        var list = new List<int>();
        for (var i = 0; i < json.Length; i++) if (json[i] == '"' && (i == 0 || json[i - 1] != '\\')) list.Add(i);
        return list;
    }

    private static string HugeValue(string json, Random random)
    {
        var root = JsonNode.Parse(json)!;
        var slots = new List<(JsonNode Parent, object Key)>();
        Collect(root, slots);
        var (parent, key) = slots[random.Next(slots.Count)];
        JsonNode value = random.Next(3) switch
        {
            0 => new string('x', random.Next(1000, 40_000)),
            1 => new JsonArray(Enumerable.Range(0, random.Next(100, 3000)).Select(i => (JsonNode?)JsonValue.Create(i)).ToArray()),
            _ => JsonValue.Create(random.Next(2) == 0 ? long.MaxValue : long.MinValue),
        };
        if (parent is JsonObject o) o[(string)key] = value;
        else ((JsonArray)parent)[(int)key] = value;
        return root.ToJsonString();
    }

    private static string ExtraFields(string json, Random random)
    {
        var body = json.TrimEnd();
        var first = body.IndexOf('{');
        var name = JsonNode.Parse(json)!.AsObject().Select(p => p.Key).ElementAt(random.Next(JsonNode.Parse(json)!.AsObject().Count));
        var extra = random.Next(3) switch
        {
            0 => $"\"{name}\":null,",              // a duplicate of an existing field, first
            1 => "\"__proto__\":{\"x\":1},",
            _ => $"\"unknown_{random.Next(1000)}\":[1,{{}}],",
        };
        return body[..(first + 1)] + extra + body[(first + 1)..];
    }
}
