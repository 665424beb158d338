namespace Platform.Inference.Constraints;

/// <summary>An immutable pushdown stack of grammar frames; null is the empty stack (the grammar is complete).</summary>
internal sealed class Stack
{
    /// <summary>Returned by <see cref="Frame.Feed"/>: the byte is not allowed here.</summary>
    public static readonly Stack Reject = new(null!, null);
    /// <summary>Returned by <see cref="Frame.Feed"/>: the frame is complete and does not take the byte; pop it and offer the byte below.</summary>
    public static readonly Stack Pass = new(null!, null);

    public readonly Frame Top;
    public readonly Stack? Below;

    private Stack(Frame top, Stack? below)
    {
        Top = top;
        Below = below;
    }

    public static Stack Push(Frame top, Stack? below) => new(top, below);

    public static bool TryAdvance(Stack? s, byte b, out Stack? next)
    {
        while (s is not null)
        {
            var r = s.Top.Feed(b, s);
            if (ReferenceEquals(r, Pass)) { s = s.Below; continue; }
            if (ReferenceEquals(r, Reject)) break;
            next = r;
            return true;
        }
        next = null;
        return false;
    }

    public static bool CanEnd(Stack? s)
    {
        for (; s is not null; s = s.Below)
            if (!s.Top.CanEnd) return false;
        return true;
    }

    /// <summary>True when every byte up to the next frame change is a grammar literal (where a special token may stand).</summary>
    public static bool AtLiteral(Stack? s) => s is not null && s.Top.IsGrammarLiteral;
}

internal abstract class Frame
{
    /// <summary>Offers one byte to the top frame <paramref name="self"/>.Top; returns the new stack, <see cref="Stack.Reject"/> or <see cref="Stack.Pass"/>.</summary>
    public abstract Stack? Feed(byte b, Stack self);
    /// <summary>The text may end with this frame where it is (with no more bytes).</summary>
    public virtual bool CanEnd => false;
    /// <summary>A literal of the grammar (a tag of a tool-call format), not JSON content: special tokens may match it.</summary>
    public virtual bool IsGrammarLiteral => false;

    /// <summary>
    /// Insignificant whitespace allowed between JSON tokens: at most this many characters in a row, as llama.cpp's
    /// grammars/json.gbnf bounds it (<c>ws ::= | " " | "\n" [ \t]{0,20}</c>), so a model cannot pad forever.
    /// </summary>
    public const int MaxWhitespace = 20;

    public static bool IsWhitespace(byte b) => b is (byte)' ' or (byte)'\n' or (byte)'\t' or (byte)'\r';
}

/// <summary>Before a JSON value: optional whitespace, then the first byte picks the value's frame.</summary>
internal sealed class ValueFrame(JsonSchemaNode schema, int whitespace) : Frame
{
    private static readonly JsonSchemaNode AnyObject = JsonSchemaNode.AnyObject();
    private static readonly JsonSchemaNode AnyArray = new() { Kind = JsonSchemaKind.Array };
    private static readonly byte[][] Keywords = ["true"u8.ToArray(), "false"u8.ToArray(), "null"u8.ToArray()];

    public override Stack? Feed(byte b, Stack self)
    {
        if (IsWhitespace(b))
            return whitespace < MaxWhitespace ? Stack.Push(new ValueFrame(schema, whitespace + 1), self.Below) : Stack.Reject;
        return Start(schema, b, self.Below);
    }

    /// <summary>The value's first byte <paramref name="b"/> against <paramref name="schema"/>.</summary>
    public static Stack? Start(JsonSchemaNode schema, byte b, Stack? below)
    {
        var n = schema.Resolved;
        switch (n.Kind)
        {
            case JsonSchemaKind.Object:
                return b == '{' ? Stack.Push(ObjectFrame.Open(n), below) : Stack.Reject;
            case JsonSchemaKind.Array:
                return b == '[' ? Stack.Push(new ArrayFrame(n, 0, false, 0), below) : Stack.Reject;
            case JsonSchemaKind.String:
                return b == '"' ? Stack.Push(new StringFrame(n.MinLength, n.MaxLength), below) : Stack.Reject;
            case JsonSchemaKind.Number:
            case JsonSchemaKind.Integer:
                return NumberFrame.Begin(n.Kind == JsonSchemaKind.Integer, b, below);
            case JsonSchemaKind.Literals:
                return LiteralFrame.Begin(n.Literals, b, below);
            case JsonSchemaKind.Union:
                foreach (var alt in n.Alternatives)
                    if (JsonSchemaCompiler.FirstBytes(alt).Contains(b)) return Start(alt, b, below);
                return Stack.Reject;
            default:
                return b switch
                {
                    (byte)'{' => Stack.Push(ObjectFrame.Open(AnyObject), below),
                    (byte)'[' => Stack.Push(new ArrayFrame(AnyArray, 0, false, 0), below),
                    (byte)'"' => Stack.Push(new StringFrame(0, int.MaxValue), below),
                    (byte)'-' or (>= (byte)'0' and <= (byte)'9') => NumberFrame.Begin(false, b, below),
                    _ => LiteralFrame.Begin(Keywords, b, below),
                };
        }
    }
}

/// <summary>
/// A JSON object. With declared properties the keys are matched byte by byte against the serialized names not yet
/// used (so no unknown or repeated key can appear) and '}' is allowed only once every required key is present;
/// without, keys are free strings and values follow <see cref="JsonSchemaNode.AdditionalProperties"/>.
/// </summary>
internal sealed class ObjectFrame : Frame
{
    private enum Phase : byte { Open, Key, Colon, After, Next }

    private readonly JsonSchemaNode _node;
    private readonly Phase _phase;
    private readonly int _whitespace;
    private readonly bool[] _used;          // by property index; copied when a key is chosen
    private readonly int[]? _candidates;   // Key phase: property indices still matching
    private readonly int _pos;              // Key phase: bytes of the key matched so far
    private readonly int _chosen;           // Colon phase: the property whose value follows (-1: a free member)

    private ObjectFrame(JsonSchemaNode node, Phase phase, int whitespace, bool[] used, int[]? candidates, int pos, int chosen)
    {
        _node = node;
        _phase = phase;
        _whitespace = whitespace;
        _used = used;
        _candidates = candidates;
        _pos = pos;
        _chosen = chosen;
    }

    public static ObjectFrame Open(JsonSchemaNode node) => new(node, Phase.Open, 0, new bool[node.Properties.Count], null, 0, -1);

    private bool Closed => _node.Properties.Count > 0;

    private ObjectFrame With(Phase phase, int whitespace = 0, bool[]? used = null, int[]? candidates = null, int pos = 0, int chosen = -1) =>
        new(_node, phase, whitespace, used ?? _used, candidates, pos, chosen);

    private bool RequiredDone()
    {
        if (_node.Required.Count == 0) return true;
        for (int i = 0; i < _node.Properties.Count; i++)
            if (!_used[i] && _node.Required.Contains(_node.Properties[i].Name)) return false;
        return true;
    }

    public override Stack? Feed(byte b, Stack self)
    {
        var below = self.Below;
        if (_phase != Phase.Key && IsWhitespace(b))
            return _whitespace < MaxWhitespace ? Stack.Push(With(_phase, _whitespace + 1, candidates: _candidates, pos: _pos, chosen: _chosen), below) : Stack.Reject;
        switch (_phase)
        {
            case Phase.Open:
                if (b == '}') return RequiredDone() ? below : Stack.Reject;
                return KeyStart(b, below);
            case Phase.Next:
                return KeyStart(b, below);
            case Phase.Key:
            {
                var keys = KeyBytes(_node);
                int count = 0, done = -1;
                foreach (var c in _candidates!)
                    if (keys[c].Length > _pos && keys[c][_pos] == b) { count++; if (keys[c].Length == _pos + 1) done = c; }
                if (count == 0) return Stack.Reject;
                if (done >= 0)
                {
                    // Serialized keys end with an unescaped quote, so a key that completes is the only candidate left.
                    var used = (bool[])_used.Clone();
                    used[done] = true;
                    return Stack.Push(With(Phase.Colon, used: used, chosen: done), below);
                }
                var next = new int[count];
                int k = 0;
                foreach (var c in _candidates!)
                    if (keys[c].Length > _pos && keys[c][_pos] == b) next[k++] = c;
                return Stack.Push(With(Phase.Key, candidates: next, pos: _pos + 1), below);
            }
            case Phase.Colon:
                if (b != ':') return Stack.Reject;
                var value = _chosen >= 0 ? _node.Properties[_chosen].Schema : _node.AdditionalProperties!;
                return Stack.Push(new ValueFrame(value, 0), Stack.Push(With(Phase.After), below));
            default: // After
                if (b == '}') return RequiredDone() ? below : Stack.Reject;
                if (b != ',') return Stack.Reject;
                if (Closed && Array.TrueForAll(_used, u => u)) return Stack.Reject;
                return Stack.Push(With(Phase.Next), below);
        }
    }

    private Stack? KeyStart(byte b, Stack? below)
    {
        if (b != '"') return Stack.Reject;
        if (!Closed)
        {
            if (_node.AdditionalProperties is null) return Stack.Reject;
            return Stack.Push(new StringFrame(0, int.MaxValue), Stack.Push(With(Phase.Colon), below));
        }
        var open = new List<int>(_used.Length);
        for (int i = 0; i < _used.Length; i++) if (!_used[i]) open.Add(i);
        return open.Count == 0 ? Stack.Reject : Stack.Push(With(Phase.Key, candidates: open.ToArray(), pos: 1), below);
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<JsonSchemaNode, byte[][]> KeyCache = new();

    private static byte[][] KeyBytes(JsonSchemaNode node) => KeyCache.GetValue(node, n =>
        n.Properties.Select(p => System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(p.Name,
            new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping })).ToArray());
}

/// <summary>A JSON array: items against <see cref="JsonSchemaNode.Items"/> (any value when absent), count within bounds.</summary>
internal sealed class ArrayFrame(JsonSchemaNode node, int count, bool afterItem, int whitespace) : Frame
{
    private static readonly JsonSchemaNode Any = JsonSchemaNode.AnyValue();

    public override Stack? Feed(byte b, Stack self)
    {
        var below = self.Below;
        if (IsWhitespace(b))
            return whitespace < MaxWhitespace ? Stack.Push(new ArrayFrame(node, count, afterItem, whitespace + 1), below) : Stack.Reject;
        if (b == ']') return count >= node.MinItems ? below : Stack.Reject;
        var items = node.Items ?? Any;
        if (afterItem)
        {
            if (b != ',' || count >= node.MaxItems) return Stack.Reject;
            return Stack.Push(new ValueFrame(items, 0), Stack.Push(new ArrayFrame(node, count + 1, true, 0), below));
        }
        if (node.MaxItems == 0) return Stack.Reject;
        return ValueFrame.Start(items, b, Stack.Push(new ArrayFrame(node, count + 1, true, 0), below));
    }
}

/// <summary>
/// A JSON string after its opening quote: escapes (\uXXXX without lone surrogates), well-formed UTF-8 (RFC 3629's
/// byte ranges, so tokens that split a character still join into a valid one) and a length in code points.
/// </summary>
internal sealed class StringFrame : Frame
{
    private enum Phase : byte { Normal, Escape, Unicode, Utf8 }

    private readonly int _min, _max, _length;
    private readonly Phase _phase;
    private readonly int _pending;         // Unicode: hex digits read; Utf8: continuation bytes still to come
    private readonly byte _lo, _hi;        // Utf8: allowed range of the next continuation byte
    private readonly bool _surrogate;      // Unicode: first digit was 'd' (the next must be 0-7: no surrogates)

    public StringFrame(int min, int max) : this(min, max, 0, Phase.Normal, 0, 0, 0, false) { }

    private StringFrame(int min, int max, int length, Phase phase, int pending, byte lo, byte hi, bool surrogate)
    {
        _min = min; _max = max; _length = length; _phase = phase; _pending = pending; _lo = lo; _hi = hi; _surrogate = surrogate;
    }

    private Stack Next(Stack? below, int length, Phase phase = Phase.Normal, int pending = 0, byte lo = 0, byte hi = 0, bool surrogate = false) =>
        Stack.Push(new StringFrame(_min, _max, length, phase, pending, lo, hi, surrogate), below);

    public override Stack? Feed(byte b, Stack self)
    {
        var below = self.Below;
        switch (_phase)
        {
            case Phase.Normal:
                if (b == '"') return _length >= _min ? below : Stack.Reject;
                if (_length >= _max || b < 0x20) return Stack.Reject;
                if (b == '\\') return Next(below, _length, Phase.Escape);
                if (b < 0x80) return Next(below, _length + 1);
                if (b is >= 0xC2 and <= 0xDF) return Next(below, _length, Phase.Utf8, 1, 0x80, 0xBF);
                if (b == 0xE0) return Next(below, _length, Phase.Utf8, 2, 0xA0, 0xBF);
                if (b == 0xED) return Next(below, _length, Phase.Utf8, 2, 0x80, 0x9F);
                if (b is >= 0xE1 and <= 0xEF) return Next(below, _length, Phase.Utf8, 2, 0x80, 0xBF);
                if (b == 0xF0) return Next(below, _length, Phase.Utf8, 3, 0x90, 0xBF);
                if (b is >= 0xF1 and <= 0xF3) return Next(below, _length, Phase.Utf8, 3, 0x80, 0xBF);
                if (b == 0xF4) return Next(below, _length, Phase.Utf8, 3, 0x80, 0x8F);
                return Stack.Reject;
            case Phase.Escape:
                if (b == 'u') return Next(below, _length, Phase.Unicode, 0);
                return b is (byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t'
                    ? Next(below, _length + 1) : Stack.Reject;
            case Phase.Unicode:
            {
                bool hex = b is (>= (byte)'0' and <= (byte)'9') or (>= (byte)'a' and <= (byte)'f') or (>= (byte)'A' and <= (byte)'F');
                if (!hex) return Stack.Reject;
                if (_pending == 1 && _surrogate && b is not (>= (byte)'0' and <= (byte)'7')) return Stack.Reject;
                if (_pending == 3) return Next(below, _length + 1);
                return Next(below, _length, Phase.Unicode, _pending + 1, surrogate: _pending == 0 && b is (byte)'d' or (byte)'D' ? true : _surrogate);
            }
            default: // Utf8
                if (b < _lo || b > _hi) return Stack.Reject;
                return _pending == 1 ? Next(below, _length + 1) : Next(below, _length, Phase.Utf8, _pending - 1, 0x80, 0xBF);
        }
    }
}

/// <summary>
/// A JSON number (RFC 8259's grammar; integers without fraction or exponent). Digits are bounded (15 in the integer
/// and fraction parts, 2 in the exponent) so every number a model writes reads back exactly as a double.
/// </summary>
internal sealed class NumberFrame : Frame
{
    private enum Phase : byte { Sign, Zero, Int, Dot, Frac, E, ESign, Exp }

    private const int MaxDigits = 15, MaxExponentDigits = 2;
    private readonly bool _integer;
    private readonly Phase _phase;
    private readonly int _digits;

    // Every state is one of few (integer, phase, digits): shared instances, so numbers allocate no frames.
    private static readonly NumberFrame[,,] Cache = Build();

    private NumberFrame(bool integer, Phase phase, int digits) { _integer = integer; _phase = phase; _digits = digits; }

    private static NumberFrame[,,] Build()
    {
        var c = new NumberFrame[2, 8, MaxDigits + 1];
        for (int i = 0; i < 2; i++) for (int p = 0; p < 8; p++) for (int d = 0; d <= MaxDigits; d++) c[i, p, d] = new NumberFrame(i == 1, (Phase)p, d);
        return c;
    }

    private static Stack To(bool integer, Phase phase, int digits, Stack? below) => Stack.Push(Cache[integer ? 1 : 0, (int)phase, digits], below);

    public static Stack? Begin(bool integer, byte b, Stack? below) => b switch
    {
        (byte)'-' => To(integer, Phase.Sign, 0, below),
        (byte)'0' => To(integer, Phase.Zero, 1, below),
        >= (byte)'1' and <= (byte)'9' => To(integer, Phase.Int, 1, below),
        _ => Stack.Reject,
    };

    public override bool CanEnd => _phase is Phase.Zero or Phase.Int or Phase.Frac or Phase.Exp;

    public override Stack? Feed(byte b, Stack self)
    {
        var below = self.Below;
        bool digit = b is >= (byte)'0' and <= (byte)'9';
        switch (_phase)
        {
            case Phase.Sign:
                return b == '0' ? To(_integer, Phase.Zero, 1, below) : digit ? To(_integer, Phase.Int, 1, below) : Stack.Reject;
            case Phase.Zero:
            case Phase.Int:
                if (digit && _phase == Phase.Int && _digits < MaxDigits) return To(_integer, Phase.Int, _digits + 1, below);
                if (!_integer && b == '.') return To(false, Phase.Dot, 0, below);
                if (!_integer && b is (byte)'e' or (byte)'E') return To(false, Phase.E, 0, below);
                return digit ? Stack.Reject : Stack.Pass;
            case Phase.Dot:
                return digit ? To(false, Phase.Frac, 1, below) : Stack.Reject;
            case Phase.Frac:
                if (digit) return _digits < MaxDigits ? To(false, Phase.Frac, _digits + 1, below) : Stack.Reject;
                if (b is (byte)'e' or (byte)'E') return To(false, Phase.E, 0, below);
                return Stack.Pass;
            case Phase.E:
                if (b is (byte)'+' or (byte)'-') return To(false, Phase.ESign, 0, below);
                return digit ? To(false, Phase.Exp, 1, below) : Stack.Reject;
            case Phase.ESign:
                return digit ? To(false, Phase.Exp, 1, below) : Stack.Reject;
            default: // Exp
                if (digit) return _digits < MaxExponentDigits ? To(false, Phase.Exp, _digits + 1, below) : Stack.Reject;
                return Stack.Pass;
        }
    }
}

/// <summary>One of a set of byte strings (enum/const values, true/false/null, or a grammar literal such as a tag).</summary>
internal sealed class LiteralFrame(byte[][] candidates, int pos, bool grammarLiteral) : Frame
{
    public static Stack? Begin(IReadOnlyList<byte[]> candidates, byte b, Stack? below) =>
        new LiteralFrame(candidates as byte[][] ?? candidates.ToArray(), 0, false).Feed(b, Stack.Push(Placeholder, below));

    private static readonly LiteralFrame Placeholder = new([], 0, false);

    public override bool IsGrammarLiteral => grammarLiteral;

    public override bool CanEnd => candidates.Any(c => c.Length == pos);

    public override Stack? Feed(byte b, Stack self)
    {
        var below = self.Below;
        int matches = 0;
        bool allEnd = true;
        foreach (var c in candidates)
            if (c.Length > pos && c[pos] == b) { matches++; allEnd &= c.Length == pos + 1; }
        if (matches == 0) return candidates.Any(c => c.Length == pos) ? Stack.Pass : Stack.Reject;
        if (allEnd) return below;
        if (matches == candidates.Length) return Stack.Push(new LiteralFrame(candidates, pos + 1, grammarLiteral), below);
        var next = new byte[matches][];
        int k = 0;
        foreach (var c in candidates)
            if (c.Length > pos && c[pos] == b) next[k++] = c;
        return Stack.Push(new LiteralFrame(next, pos + 1, grammarLiteral), below);
    }
}

/// <summary>A choice among alternatives by their leading literal; when one literal completes its rule follows.</summary>
internal sealed class ChoiceFrame((byte[] Literal, Grammar Then)[] alternatives, int[] candidates, int pos) : Frame
{
    public override bool IsGrammarLiteral => true;

    public override Stack? Feed(byte b, Stack self)
    {
        var next = new List<int>(candidates.Length);
        foreach (var c in candidates)
        {
            var lit = alternatives[c].Literal;
            if (lit[pos] != b) continue;
            // Literals are prefix-free (checked when the choice is built): one that completes is the only match.
            if (lit.Length == pos + 1) return alternatives[c].Then.Instantiate(self.Below);
            next.Add(c);
        }
        return next.Count == 0 ? Stack.Reject : Stack.Push(new ChoiceFrame(alternatives, next.ToArray(), pos + 1), self.Below);
    }
}

/// <summary>After item <c>count</c> of a repetition: the separator starts another item, else the repetition ends.</summary>
internal sealed class RepeatFrame(Grammar item, byte[] separator, int count, int min, int max) : Frame
{
    /// <summary>Item number <paramref name="count"/>, followed by the choice to go on unless it is the last allowed.</summary>
    public static Stack? Item(Grammar item, byte[] separator, int count, int min, int max, Stack? below) =>
        item.Instantiate(count < max ? Stack.Push(new RepeatFrame(item, separator, count, min, max), below) : below);

    public override bool CanEnd => count >= min;
    public override bool IsGrammarLiteral => true;

    public override Stack? Feed(byte b, Stack self)
    {
        if (count < max && separator.Length > 0 && b == separator[0])
        {
            var rest = Item(item, separator, count + 1, min, max, self.Below);
            return separator.Length == 1 ? rest : Stack.Push(new LiteralFrame([separator], 1, grammarLiteral: true), rest);
        }
        return count >= min ? Stack.Pass : Stack.Reject;
    }
}

/// <summary>Undecided between free text and the trigger's grammar while the output is a prefix of the trigger.</summary>
internal sealed class TriggerFrame(byte[] trigger, int pos, Stack? afterTrigger) : Frame
{
    public override bool CanEnd => true;
    public override bool IsGrammarLiteral => true;

    public override Stack? Feed(byte b, Stack self)
    {
        if (b != trigger[pos]) return Stack.Push(FreeFrame.Instance, null);
        return pos + 1 == trigger.Length ? afterTrigger : Stack.Push(new TriggerFrame(trigger, pos + 1, afterTrigger), null);
    }
}

/// <summary>Free text: every byte is allowed and the text may end anywhere.</summary>
internal sealed class FreeFrame : Frame
{
    public static readonly FreeFrame Instance = new();
    public override bool CanEnd => true;
    public override Stack? Feed(byte b, Stack self) => self;
}
