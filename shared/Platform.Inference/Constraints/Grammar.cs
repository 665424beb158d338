using System.Text;

namespace Platform.Inference.Constraints;

/// <summary>
/// A grammar over the bytes of the generated text: JSON values constrained by a schema, fixed literals (a tool-call
/// format's tags), sequences, a choice among alternatives told apart by a literal prefix, repetition with a separator,
/// and a trigger (free text unless the output starts with a given prefix, then the inner grammar). Immutable and
/// tokenizer-independent: one compiled grammar serves any number of sequences (<see cref="GrammarState"/>).
/// </summary>
public abstract class Grammar
{
    private protected Grammar() { }

    /// <summary>Pushes this rule's frames above <paramref name="below"/>.</summary>
    internal abstract Stack? Instantiate(Stack? below);

    /// <summary>A JSON value that validates against <paramref name="schema"/>.</summary>
    public static Grammar Json(JsonSchemaNode schema) => new JsonRule(schema);

    /// <summary>Any JSON object (OpenAI's <c>response_format: json_object</c>).</summary>
    public static Grammar JsonObject() => new JsonRule(JsonSchemaNode.AnyObject());

    public static Grammar Literal(string text) => new LiteralRule(Encoding.UTF8.GetBytes(text));

    public static Grammar Sequence(params Grammar[] parts) => new SequenceRule(parts);

    /// <summary>One of several alternatives, each starting with its own literal; no literal may be a prefix of another.</summary>
    public static Grammar Choice(IReadOnlyList<(string Literal, Grammar Then)> alternatives)
    {
        var alts = alternatives.Select(a => (Encoding.UTF8.GetBytes(a.Literal), a.Then)).ToArray();
        if (alts.Length == 0) throw new ArgumentException("a choice needs at least one alternative");
        for (int i = 0; i < alts.Length; i++)
        {
            if (alts[i].Item1.Length == 0) throw new ArgumentException("a choice's literals must not be empty");
            for (int j = 0; j < alts.Length; j++)
                if (i != j && alts[j].Item1.AsSpan().StartsWith(alts[i].Item1))
                    throw new ArgumentException($"choice literal '{alternatives[i].Literal}' is a prefix of '{alternatives[j].Literal}'");
        }
        return new ChoiceRule(alts);
    }

    /// <summary><paramref name="item"/> between <paramref name="min"/> (at least 1) and <paramref name="max"/> times, separated by <paramref name="separator"/>.</summary>
    public static Grammar Repeat(Grammar item, string separator, int min, int max)
    {
        if (min < 1 || max < min) throw new ArgumentException($"repeat bounds must satisfy 1 <= min <= max, got {min}..{max}");
        if (separator.Length == 0 && max > 1) throw new ArgumentException("a repeat of more than one item needs a separator");
        return new RepeatRule(item, Encoding.UTF8.GetBytes(separator), min, max);
    }

    /// <summary>
    /// Free text, unless the output starts with <paramref name="trigger"/>: then it must continue as
    /// <paramref name="inner"/>, which must itself accept <paramref name="trigger"/> as its beginning (a tool-call
    /// format under <c>tool_choice: auto</c>). Only as a whole grammar, not inside another rule.
    /// </summary>
    public static Grammar Trigger(string trigger, Grammar inner)
    {
        var bytes = Encoding.UTF8.GetBytes(trigger);
        if (bytes.Length == 0) throw new ArgumentException("the trigger must not be empty");
        var start = inner.Instantiate(null);
        foreach (var b in bytes)
            if (!Stack.TryAdvance(start, b, out start)) throw new ArgumentException($"the inner grammar does not start with the trigger '{trigger}'");
        return new TriggerRule(bytes, start);
    }

    private sealed class JsonRule(JsonSchemaNode schema) : Grammar
    {
        internal override Stack? Instantiate(Stack? below) => Stack.Push(new ValueFrame(schema, 0), below);
    }

    private sealed class LiteralRule(byte[] bytes) : Grammar
    {
        internal override Stack? Instantiate(Stack? below) =>
            bytes.Length == 0 ? below : Stack.Push(new LiteralFrame([bytes], 0, grammarLiteral: true), below);
    }

    private sealed class SequenceRule(Grammar[] parts) : Grammar
    {
        internal override Stack? Instantiate(Stack? below)
        {
            for (int i = parts.Length - 1; i >= 0; i--) below = parts[i].Instantiate(below);
            return below;
        }
    }

    private sealed class ChoiceRule((byte[] Literal, Grammar Then)[] alternatives) : Grammar
    {
        internal override Stack? Instantiate(Stack? below) =>
            Stack.Push(new ChoiceFrame(alternatives, Enumerable.Range(0, alternatives.Length).ToArray(), 0), below);
    }

    private sealed class RepeatRule(Grammar item, byte[] separator, int min, int max) : Grammar
    {
        internal override Stack? Instantiate(Stack? below) => RepeatFrame.Item(item, separator, 1, min, max, below);
    }

    private sealed class TriggerRule(byte[] trigger, Stack? afterTrigger) : Grammar
    {
        internal override Stack? Instantiate(Stack? below)
        {
            if (below is not null) throw new InvalidOperationException("a trigger must be the whole grammar");
            return Stack.Push(new TriggerFrame(trigger, 0, afterTrigger), null);
        }
    }
}

/// <summary>
/// Where a sequence stands in its grammar: an immutable pushdown stack (so a state is shared, not copied, when the
/// token mask tries every vocabulary token from it). <see cref="Advance"/> returns null for bytes the grammar refuses.
/// </summary>
public sealed class GrammarState
{
    private readonly Stack? _stack;

    private GrammarState(Stack? stack) => _stack = stack;

    internal Stack? Stack => _stack;

    public static GrammarState Start(Grammar grammar) => new(grammar.Instantiate(null));

    internal static GrammarState From(Stack? stack) => new(stack);

    /// <summary>The state after <paramref name="bytes"/>, or null when the grammar does not allow them here.</summary>
    public GrammarState? Advance(ReadOnlySpan<byte> bytes)
    {
        var s = _stack;
        foreach (var b in bytes)
            if (!Stack.TryAdvance(s, b, out s)) return null;
        return new GrammarState(s);
    }

    public GrammarState? Advance(string text) => Advance(Encoding.UTF8.GetBytes(text));

    /// <summary>The grammar is done: nothing more may follow.</summary>
    public bool IsComplete => _stack is null;

    /// <summary>The output may end here (complete, a finished number at the top level, free text, ...).</summary>
    public bool CanEnd => Stack.CanEnd(_stack);

    /// <summary>In free text (a trigger that did not fire): every token is allowed.</summary>
    public bool IsFree => _stack?.Top is FreeFrame;
}
