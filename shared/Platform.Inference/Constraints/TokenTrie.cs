using System.Runtime.CompilerServices;
using Platform.Inference.Tokenization;

namespace Platform.Inference.Constraints;

/// <summary>
/// The vocabulary's token bytes as a trie, built once per tokenizer and cached: the mask walks it depth first from a
/// grammar state, so tokens sharing a prefix share its grammar steps and a refused prefix prunes every token under it.
/// Special tokens are kept apart (<see cref="Specials"/>): they may stand only where the grammar expects a literal tag.
/// </summary>
public sealed class TokenTrie
{
    private static readonly ConditionalWeakTable<TextTokenizer, TokenTrie> Cache = new();

    // Node i: its children are ChildBytes/ChildNodes[ChildStart[i] .. ChildStart[i + 1]); its tokens are
    // NodeTokens[TokenStart[i] .. TokenStart[i + 1]).
    internal readonly int[] ChildStart;
    internal readonly byte[] ChildBytes;
    internal readonly int[] ChildNodes;
    internal readonly int[] TokenStart;
    internal readonly int[] NodeTokens;

    public int VocabSize { get; }
    public int NodeCount => TokenStart.Length - 1;
    /// <summary>Special tokens other than those with no text: (id, bytes).</summary>
    public IReadOnlyList<(int Id, byte[] Bytes)> Specials { get; }

    public static TokenTrie For(TextTokenizer tokenizer) => Cache.GetValue(tokenizer, t => new TokenTrie(t));

    private TokenTrie(TextTokenizer tok)
    {
        VocabSize = tok.VocabSize;
        var specials = new List<(int, byte[])>();
        // Build with dictionaries, then flatten into arrays (the mask's inner loop reads only arrays).
        var children = new List<SortedDictionary<byte, int>> { new() };
        var tokens = new List<List<int>> { new() };
        for (int id = 0; id < tok.VocabSize; id++)
        {
            var bytes = tok.TokenBytes(id);
            if (bytes.Length == 0) continue;
            if (tok.IsSpecial(id)) { specials.Add((id, bytes.ToArray())); continue; }
            int node = 0;
            foreach (var b in bytes)
            {
                if (!children[node].TryGetValue(b, out var child))
                {
                    child = children.Count;
                    children.Add(new());
                    tokens.Add(new());
                    children[node][b] = child;
                }
                node = child;
            }
            tokens[node].Add(id);
        }
        int n = children.Count;
        ChildStart = new int[n + 1];
        TokenStart = new int[n + 1];
        for (int i = 0; i < n; i++)
        {
            ChildStart[i + 1] = ChildStart[i] + children[i].Count;
            TokenStart[i + 1] = TokenStart[i] + tokens[i].Count;
        }
        ChildBytes = new byte[ChildStart[n]];
        ChildNodes = new int[ChildStart[n]];
        NodeTokens = new int[TokenStart[n]];
        for (int i = 0; i < n; i++)
        {
            int k = ChildStart[i];
            foreach (var (b, c) in children[i]) { ChildBytes[k] = b; ChildNodes[k] = c; k++; }
            tokens[i].CopyTo(NodeTokens, TokenStart[i]);
        }
        Specials = specials;
    }
}
