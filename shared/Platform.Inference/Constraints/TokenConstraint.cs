using Platform.Inference.Generation;
using Platform.Inference.Tokenization;
using static TorchSharp.torch;

namespace Platform.Inference.Constraints;

/// <summary>
/// Constrained decoding of one sequence: at each step every vocabulary token whose bytes the grammar refuses from the
/// current state is masked to -infinity, so whatever the sampler picks keeps the output inside the grammar (the
/// approach of llama.cpp's grammar sampler and of Willard and Louf 2023, "Efficient Guided Generation for LLMs",
/// here without their precompiled index: the vocabulary trie is walked from the live pushdown state). Stop tokens are
/// allowed only where the output may end; when the grammar is complete the engine ends the sequence.
/// </summary>
public sealed class TokenConstraint : ITokenConstraint
{
    private readonly TextTokenizer _tokenizer;
    private readonly TokenTrie _trie;
    private readonly int[] _stopTokens;
    private readonly CancellationToken _cancellation;
    private GrammarState _state;
    private float[]? _bias;

    public TokenConstraint(Grammar grammar, TextTokenizer tokenizer, IEnumerable<int> stopTokens, CancellationToken cancellation = default)
    {
        _tokenizer = tokenizer;
        _trie = TokenTrie.For(tokenizer);
        _stopTokens = stopTokens.ToArray();
        _cancellation = cancellation;
        _state = GrammarState.Start(grammar);
    }

    public GrammarState State => _state;
    /// <summary>Complete, or at a dead end (no token continues the grammar: then the sequence ends rather than fails the batch).</summary>
    public bool IsComplete => _state.IsComplete || _deadEnd;
    private bool _deadEnd;
    /// <summary>Steps whose mask was computed, and the trie nodes they visited (for the per-token cost figures).</summary>
    public long MaskedSteps { get; private set; }
    public long VisitedNodes { get; private set; }

    /// <summary>The token ids allowed next (ascending order is not guaranteed). Empty when the sequence was cancelled mid-walk.</summary>
    public List<int> AllowedTokens()
    {
        var allowed = new List<int>();
        if (_state.IsFree) return allowed;
        var root = _state.Stack;
        MaskedSteps++;
        Walk(0, root, allowed);
        if (_cancellation.IsCancellationRequested) return allowed;
        if (Stack.AtLiteral(root))
            foreach (var (id, bytes) in _trie.Specials)
            {
                if (Array.IndexOf(_stopTokens, id) >= 0) continue;
                var s = root;
                bool ok = true;
                foreach (var b in bytes)
                    if (!Stack.AtLiteral(s) || !Stack.TryAdvance(s, b, out s)) { ok = false; break; }
                if (ok) allowed.Add(id);
            }
        if (_state.CanEnd) allowed.AddRange(_stopTokens);
        return allowed;
    }

    private void Walk(int node, Stack? state, List<int> allowed)
    {
        var t = _trie;
        for (int k = t.ChildStart[node], end = t.ChildStart[node + 1]; k < end; k++)
        {
            if (!Stack.TryAdvance(state, t.ChildBytes[k], out var next)) continue;
            int child = t.ChildNodes[k];
            VisitedNodes++;
            for (int i = t.TokenStart[child], e = t.TokenStart[child + 1]; i < e; i++) allowed.Add(t.NodeTokens[i]);
            if (t.ChildStart[child] != t.ChildStart[child + 1])
            {
                // Checked per trie node so a cancelled request stops a long walk (large vocabularies) at once.
                if ((VisitedNodes & 1023) == 0 && _cancellation.IsCancellationRequested) return;
                Walk(child, next, allowed);
            }
        }
    }

    public void Mask(Tensor logits)
    {
        if (_state.IsFree || _state.IsComplete) return;
        var allowed = AllowedTokens();
        if (_cancellation.IsCancellationRequested) return;   // the engine ends the sequence at its next step
        if (allowed.Count == 0)
        {
            // A vocabulary without some byte the grammar needs: end the sequence (with a stop token if there is one).
            _deadEnd = true;
            if (_stopTokens.Length == 0) return;
            allowed.AddRange(_stopTokens);
        }
        int vocab = (int)logits.shape[0];
        if (_bias is null || _bias.Length != vocab) _bias = new float[vocab];
        Array.Fill(_bias, float.NegativeInfinity);
        foreach (var id in allowed) if (id < vocab) _bias[id] = 0f;
        using var bias = tensor(_bias, device: logits.device);
        logits.add_(bias);
    }

    public void Advance(int token)
    {
        if (_state.IsFree) return;
        if (Array.IndexOf(_stopTokens, token) >= 0) return;
        // The mask allows only tokens the grammar accepts; a refused one (a step cancelled before its mask) ends the sequence.
        if (_state.Advance(_tokenizer.TokenBytes(token)) is { } next) _state = next;
        else _deadEnd = true;
    }
}
