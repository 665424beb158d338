using System.Text;

namespace Platform.Inference.Tokenization;

/// <summary>
/// SentencePiece BPE encoding as llama.cpp does it (src/llama-vocab.cpp, llm_tokenizer_spm and the SPM branch of
/// llama_vocab::impl::tokenize), which is SentencePiece's own bpe_model.cc algorithm: special tokens are split out of
/// the raw text first (longest first); each remaining fragment that follows a special token or starts the text gets
/// the dummy-prefix space, spaces become U+2581, the fragment is split into characters, and the adjacent pair whose
/// concatenation is a piece with the highest score is merged until none is left (equal scores: the leftmost pair);
/// a character that is no piece becomes its UTF-8 bytes' &lt;0xXX&gt; pieces (byte fallback) or the unknown id.
/// <para>
/// Written here rather than taken from Microsoft.ML.Tokenizers' LlamaTokenizer because that one (2.0.1) breaks score
/// ties toward the rightmost pair ("▁aaa" with the piece "aa" gives ▁ a aa, SentencePiece and llama.cpp give ▁ aa a),
/// normalizes before splitting out special tokens (no dummy prefix after them) and needs the byte pieces at
/// consecutive ids; GGUF vocabularies are llama.cpp's, so llama.cpp's behaviour is the reference, and the same
/// encoder serves a Hugging Face tokenizer.model so a folder and its GGUF export tokenize alike.
/// </para>
/// </summary>
public sealed class SentencePieceBpe
{
    private const char Escape = '\u2581';
    private readonly Dictionary<string, int> _pieceToId = new(StringComparer.Ordinal);
    // Span lookups: the merge loop asks for every candidate pair's text, and a substring per ask would allocate.
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _pieceBySpan;
    private readonly float[] _scores;
    private readonly int[] _byteIds = new int[256];
    private readonly (string Text, int Id, bool LStrip, bool RStrip)[] _specials;
    private readonly bool _byteFallback, _addSpacePrefix, _removeExtraWhitespaces;
    private readonly int _unknownId;

    /// <param name="pieces">Piece text by id (U+2581 for spaces); a text given twice maps to its last id, as in llama.cpp.</param>
    /// <param name="scores">Merge priority by id (higher merges first).</param>
    /// <param name="specialTokens">Texts matched literally in the input before encoding (control, user-defined, unknown).</param>
    /// <param name="byteFallback">Characters outside the vocabulary become byte pieces; otherwise the unknown id, one per run.</param>
    /// <param name="removeExtraWhitespaces">SentencePiece's normalizer option: trim and collapse runs of spaces (llama.cpp never does).</param>
    /// <param name="leftStripped">Special token ids that swallow the whitespace before them (llama.cpp's LLAMA_TOKEN_ATTR_LSTRIP,
    /// Hugging Face's AddedToken.lstrip).</param>
    /// <param name="rightStripped">Special token ids that swallow the whitespace after them (LLAMA_TOKEN_ATTR_RSTRIP, AddedToken.rstrip).</param>
    public SentencePieceBpe(IReadOnlyList<string> pieces, IReadOnlyList<float> scores, IReadOnlyDictionary<string, int> specialTokens,
        bool byteFallback, int unknownId, bool addSpacePrefix, bool removeExtraWhitespaces = false,
        IReadOnlySet<int>? leftStripped = null, IReadOnlySet<int>? rightStripped = null)
    {
        if (scores.Count != pieces.Count) throw new ArgumentException($"{scores.Count} scores for {pieces.Count} pieces", nameof(scores));
        for (int id = 0; id < pieces.Count; id++) _pieceToId[pieces[id]] = id;
        _pieceBySpan = _pieceToId.GetAlternateLookup<ReadOnlySpan<char>>();
        _scores = [.. scores];
        _byteFallback = byteFallback;
        _unknownId = unknownId;
        _addSpacePrefix = addSpacePrefix;
        _removeExtraWhitespaces = removeExtraWhitespaces;
        // llama.cpp's byte_to_token: the <0xXX> piece, else (ASCII) the character itself.
        for (int b = 0; b < 256; b++)
            _byteIds[b] = _pieceToId.TryGetValue($"<0x{b:X2}>", out int id) ? id
                : b < 0x80 && _pieceToId.TryGetValue(((char)b).ToString(), out id) ? id : -1;
        // llama.cpp sorts its special-token cache by text length, longest first, and splits on each in turn.
        _specials = specialTokens.Where(kv => kv.Key.Length > 0)
            .OrderByDescending(kv => Encoding.UTF8.GetByteCount(kv.Key)).ThenBy(kv => kv.Value)
            .Select(kv => (kv.Key, kv.Value, leftStripped?.Contains(kv.Value) == true, rightStripped?.Contains(kv.Value) == true)).ToArray();
    }

    /// <summary>The first byte value with no piece to fall back to (null when every byte has one).</summary>
    public int? FirstByteWithoutPiece => Array.IndexOf(_byteIds, -1) is int i and >= 0 ? i : null;

    public IReadOnlyList<int> Encode(string text)
    {
        var output = new List<int>();
        if (text.Length == 0) return output;
        bool previousSpecial = true; // the first fragment gets the dummy prefix too
        foreach (var (start, length, special) in Partition(text))
        {
            if (special >= 0)
            {
                output.Add(special);
                previousSpecial = true;
                continue;
            }
            var fragment = text.Substring(start, length);
            if (_removeExtraWhitespaces) fragment = CollapseSpaces(fragment);
            if (_addSpacePrefix && previousSpecial) fragment = " " + fragment;
            EncodeFragment(fragment.Replace(' ', Escape), output);
            previousSpecial = false;
        }
        return output;
    }

    /// <summary>llama.cpp's tokenizer_st_partition: raw-text fragments and special-token ids, in text order.</summary>
    private List<(int Start, int Length, int Special)> Partition(string text)
    {
        var fragments = new List<(int Start, int Length, int Special)> { (0, text.Length, -1) };
        foreach (var (special, id, lstrip, rstrip) in _specials)
        {
            for (int f = 0; f < fragments.Count; f++)
            {
                var (start, length, kind) = fragments[f];
                if (kind >= 0) continue;
                int at = text.IndexOf(special, start, length, StringComparison.Ordinal);
                if (at < 0) continue;
                int end = start + length;
                var split = new List<(int, int, int)>();
                while (at >= 0)
                {
                    int left = at - start;
                    if (lstrip) while (left > 0 && IsCSpace(text[start + left - 1])) left--;
                    if (left > 0) split.Add((start, left, -1));
                    split.Add((at, special.Length, id));
                    start = at + special.Length;
                    if (rstrip) while (start < end && IsCSpace(text[start])) start++;
                    at = start < end ? text.IndexOf(special, start, end - start, StringComparison.Ordinal) : -1;
                }
                if (start < end) split.Add((start, end - start, -1));
                fragments.RemoveAt(f);
                fragments.InsertRange(f, split);
                f += split.Count - 1;
            }
        }
        return fragments;
    }

    /// <summary>C's isspace in the "C" locale, which llama.cpp strips with.</summary>
    private static bool IsCSpace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';

    private static string CollapseSpaces(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (var c in s.Trim(' '))
            if (c != ' ' || sb.Length == 0 || sb[^1] != ' ') sb.Append(c);
        return sb.ToString();
    }

    private struct Symbol
    {
        public int Start, Length, Prev, Next;
    }

    private void EncodeFragment(string text, List<int> output)
    {
        // One symbol per character (a surrogate pair is one character).
        var symbols = new List<Symbol>(text.Length);
        for (int i = 0; i < text.Length;)
        {
            int len = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            symbols.Add(new Symbol { Start = i, Length = len, Prev = symbols.Count - 1, Next = i + len < text.Length ? symbols.Count + 1 : -1 });
            i += len;
        }
        if (symbols.Count == 0) return;
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(symbols);

        // Highest score first; equal scores: the leftmost pair (llama.cpp's llm_bigram_spm comparator).
        var queue = new PriorityQueue<(int Left, int Right, int Length), (float Score, int Left)>(BigramOrder.Instance);
        void TryAdd(Span<Symbol> s, int left, int right)
        {
            if (left < 0 || right < 0) return;
            int length = s[left].Length + s[right].Length;
            if (!_pieceBySpan.TryGetValue(text.AsSpan(s[left].Start, length), out int id)) return;
            queue.Enqueue((left, right, length), (_scores[id], left));
        }
        for (int i = 1; i < span.Length; i++) TryAdd(span, i - 1, i);
        while (queue.TryDequeue(out var bigram, out _))
        {
            ref var left = ref span[bigram.Left];
            ref var right = ref span[bigram.Right];
            if (left.Length == 0 || right.Length == 0 || left.Length + right.Length != bigram.Length) continue; // stale
            left.Length += right.Length;
            right.Length = 0;
            left.Next = right.Next;
            if (right.Next >= 0) span[right.Next].Prev = bigram.Left;
            TryAdd(span, left.Prev, bigram.Left);
            TryAdd(span, bigram.Left, left.Next);
        }

        bool previousUnknown = false;
        for (int i = 0; i != -1; i = span[i].Next)
        {
            var piece = text.AsSpan(span[i].Start, span[i].Length);
            if (_pieceBySpan.TryGetValue(piece, out int id))
            {
                output.Add(id);
                previousUnknown = false;
            }
            else if (_byteFallback)
            {
                // Only single characters can be unknown here (every merge produced a piece); an escaped space
                // falls back to the bytes of U+2581, as in llama.cpp.
                foreach (var b in Encoding.UTF8.GetBytes(piece.ToArray()))
                    output.Add(_byteIds[b] >= 0 ? _byteIds[b] : throw new InvalidOperationException($"byte 0x{b:X2} has no byte-fallback piece"));
                previousUnknown = false;
            }
            else if (!previousUnknown)
            {
                // SentencePiece merges a run of unknown characters into one unknown piece.
                output.Add(_unknownId);
                previousUnknown = true;
            }
        }
    }

    private sealed class BigramOrder : IComparer<(float Score, int Left)>
    {
        public static readonly BigramOrder Instance = new();
        public int Compare((float Score, int Left) a, (float Score, int Left) b) =>
            a.Score != b.Score ? b.Score.CompareTo(a.Score) : a.Left.CompareTo(b.Left);
    }
}
