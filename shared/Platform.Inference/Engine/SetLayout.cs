using static TorchSharp.torch;

namespace Platform.Inference.Engine;

/// <summary>A run of prompt tokens with, per token, an optional visual-embedding row that replaces its embedding.</summary>
public sealed record TokenRun(int[] Tokens, float[]?[] Rows)
{
    public static TokenRun Of(IReadOnlyList<int> tokens) => new(tokens.ToArray(), new float[]?[tokens.Count]);
}

/// <summary>
/// The cache layout of a prompt with sets (Set-Based Prompting, McIlroy-Young et al. 2024): for every cache index its
/// rotary position id and, for tokens inside a set, which set and member it belongs to. Members of a set all start at
/// the position after what precedes the set; the tokens after the set continue at start + the longest member.
/// A member's token attends to the tokens before the set and to its own member (causally), never to another member;
/// everything after the set attends to all of it. Generation continues after the whole prompt, at the position
/// after the last piece. When the prompt ends with a set no single token has seen all of it, so the first generated
/// token is chosen from the mean of the members' last-token logits (the normalised geometric mean of their next-token
/// distributions, symmetric in the members); with a suffix it is chosen from the suffix's last token as usual.
/// <para>
/// The members are laid out in the cache in a canonical order of the engine's own (by token ids, then by length,
/// then by the bits of any visual rows), not the caller's: the mask and positions make the result mathematically
/// the same for any order, and the canonical layout makes it bitwise the same, since sums over keys in another
/// cache order round differently.
/// </para>
/// </summary>
public sealed class SetLayout
{
    private SetLayout(int[] tokens, float[]?[] rows, long[] positions, int[] setOf, int[] memberOf, int[] trailingEnds)
    {
        TrailingMemberEnds = trailingEnds;
        Tokens = tokens;
        Rows = rows;
        Positions = positions;
        SetOf = setOf;
        MemberOf = memberOf;
        NextPosition = tokens.Length == 0 ? 0 : positions[^1] + 1;
        // With a set at the end the last cache index is not the largest position: the next token continues after
        // the longest member.
        for (int i = 0; i < positions.Length; i++) NextPosition = Math.Max(NextPosition, positions[i] + 1);
    }

    /// <summary>Prompt tokens in cache order.</summary>
    public int[] Tokens { get; }
    /// <summary>Visual rows by cache index (null = the token's own embedding).</summary>
    public float[]?[] Rows { get; }
    /// <summary>Rotary position id of each cache index.</summary>
    public long[] Positions { get; }
    /// <summary>Set index of each cache index, -1 outside sets.</summary>
    public int[] SetOf { get; }
    /// <summary>Member index (within its set, canonical order) of each cache index, -1 outside sets.</summary>
    public int[] MemberOf { get; }
    /// <summary>Cache indices of the members' last tokens when the prompt ends with a set (canonical order); empty otherwise.</summary>
    public int[] TrailingMemberEnds { get; }
    /// <summary>Position id of the first generated token.</summary>
    public long NextPosition { get; }
    /// <summary>Cache length minus position: subtract from a generated token's cache index to get its position id.</summary>
    public long PositionOffset => Tokens.Length - NextPosition;

    /// <summary>Lays out runs and sets (each a list of members) in order; members are put in canonical order.</summary>
    public static SetLayout Build(IEnumerable<(TokenRun? Run, IReadOnlyList<TokenRun>? Set)> pieces)
    {
        var tokens = new List<int>();
        var rows = new List<float[]?>();
        var positions = new List<long>();
        var setOf = new List<int>();
        var memberOf = new List<int>();
        long next = 0;
        int sets = 0;
        var trailing = new List<int>();
        foreach (var (run, set) in pieces)
        {
            if (run is not null)
            {
                if (run.Tokens.Length > 0) trailing.Clear();
                for (int i = 0; i < run.Tokens.Length; i++)
                {
                    tokens.Add(run.Tokens[i]); rows.Add(run.Rows[i]); positions.Add(next++); setOf.Add(-1); memberOf.Add(-1);
                }
                continue;
            }
            if (set is null || set.Count == 0) throw new ArgumentException("a prompt set has no members");
            if (set.Any(m => m.Tokens.Length == 0)) throw new ArgumentException("a prompt set has an empty member");
            var canonical = set.ToList();
            canonical.Sort(Compare);
            long start = next;
            trailing.Clear();
            for (int m = 0; m < canonical.Count; m++)
            {
                var member = canonical[m];
                for (int i = 0; i < member.Tokens.Length; i++)
                {
                    tokens.Add(member.Tokens[i]); rows.Add(member.Rows[i]); positions.Add(start + i); setOf.Add(sets); memberOf.Add(m);
                }
                trailing.Add(tokens.Count - 1);
            }
            next = start + canonical.Max(m => m.Tokens.Length);
            sets++;
        }
        var layout = new SetLayout(tokens.ToArray(), rows.ToArray(), positions.ToArray(), setOf.ToArray(), memberOf.ToArray(), trailing.ToArray());
        return layout;
    }

    /// <summary>A total order on members that depends only on their content.</summary>
    public static int Compare(TokenRun a, TokenRun b)
    {
        int n = Math.Min(a.Tokens.Length, b.Tokens.Length);
        for (int i = 0; i < n; i++)
            if (a.Tokens[i] != b.Tokens[i]) return a.Tokens[i].CompareTo(b.Tokens[i]);
        if (a.Tokens.Length != b.Tokens.Length) return a.Tokens.Length.CompareTo(b.Tokens.Length);
        for (int i = 0; i < a.Rows.Length; i++)
        {
            var (ra, rb) = (a.Rows[i], b.Rows[i]);
            if (ra is null || rb is null)
            {
                if (ra is null != rb is null) return ra is null ? -1 : 1;
                continue;
            }
            if (ra.Length != rb.Length) return ra.Length.CompareTo(rb.Length);
            for (int k = 0; k < ra.Length; k++)
            {
                int c = BitConverter.SingleToInt32Bits(ra[k]).CompareTo(BitConverter.SingleToInt32Bits(rb[k]));
                if (c != 0) return c;
            }
        }
        return 0;
    }

    /// <summary>Whether cache index <paramref name="query"/> may attend to cache index <paramref name="key"/>.</summary>
    public bool Allowed(int query, int key) =>
        key <= query && !(SetOf[query] >= 0 && SetOf[query] == SetOf[key] && MemberOf[query] != MemberOf[key]);

    /// <summary>
    /// The attention mask [1, count, from + count] (true = may attend) of prompt tokens from .. from+count-1 over the
    /// cache indices 0 .. from+count-1 (a prefill chunk).
    /// </summary>
    public Tensor ChunkMask(int from, int count, Device device)
    {
        int keys = from + count;
        var allowed = new bool[count * keys];
        for (int q = 0; q < count; q++)
            for (int k = 0; k < keys; k++)
                allowed[q * keys + k] = Allowed(from + q, k);
        return tensor(allowed, device: device).view(1, count, keys);
    }

    /// <summary>Position ids [1, count] of prompt tokens from .. from+count-1.</summary>
    public Tensor ChunkPositions(int from, int count, Device device) =>
        tensor(Positions.AsSpan(from, count).ToArray(), device: device).view(1, count);
}
