using System.Text;
using Microsoft.ML.Tokenizers;

namespace Platform.Inference.Tokenization;

public enum TokenizerKind
{
    /// <summary>tokenizer.json with a byte-level BPE model (GPT-2, Llama 3, Qwen2, SmolLM).</summary>
    ByteLevelBpe,
    /// <summary>A SentencePiece BPE model: tokenizer.model (Llama 2, Mistral) or a GGUF "llama" vocabulary.</summary>
    SentencePiece,
}

/// <summary>
/// The engine's tokenizer: byte-level BPE encoding is done by Microsoft.ML.Tokenizers' BpeTokenizer, SentencePiece
/// by <see cref="SentencePieceBpe"/>; this wrapper adds what streaming needs and the library does not expose per token: the exact bytes of each
/// token id (byte-level BPE tokens may hold part of a UTF-8 character), and the special-token table.
/// </summary>
public sealed class TextTokenizer
{
    private readonly byte[][] _tokenBytes;
    private readonly Dictionary<string, int> _tokenToId;
    private readonly string[] _idToToken;
    private readonly Func<string, IReadOnlyList<int>> _encode;

    internal TextTokenizer(BpeTokenizer bpe, IReadOnlyDictionary<string, int> vocabulary,
        IReadOnlyDictionary<string, int> specialTokens, int? bosId, int? eosId, bool addBos)
        : this(text => bpe.EncodeToIds(text), TokenizerKind.ByteLevelBpe, vocabulary, specialTokens, bosId, eosId, addBos, addEos: false, stripLeadingSpace: false)
    {
    }

    /// <param name="stripLeadingSpace">Decoding drops the dummy-prefix space of the first piece (SentencePiece with add_dummy_prefix).</param>
    internal TextTokenizer(SentencePieceBpe spm, IReadOnlyDictionary<string, int> vocabulary, IReadOnlyDictionary<string, int> specialTokens,
        int? bosId, int? eosId, bool addBos, bool addEos, bool stripLeadingSpace)
        : this(spm.Encode, TokenizerKind.SentencePiece, vocabulary, specialTokens, bosId, eosId, addBos, addEos, stripLeadingSpace)
    {
    }

    private TextTokenizer(Func<string, IReadOnlyList<int>> encode, TokenizerKind kind, IReadOnlyDictionary<string, int> vocabulary,
        IReadOnlyDictionary<string, int> specialTokens, int? bosId, int? eosId, bool addBos, bool addEos, bool stripLeadingSpace)
    {
        _encode = encode;
        Kind = kind;
        AddEos = addEos;
        StripsLeadingSpace = stripLeadingSpace;
        SpecialTokens = specialTokens;
        BosTokenId = bosId;
        EosTokenId = eosId;
        AddBos = addBos;
        int size = Math.Max(vocabulary.Count == 0 ? 0 : vocabulary.Values.Max() + 1, specialTokens.Count == 0 ? 0 : specialTokens.Values.Max() + 1);
        VocabSize = size;
        _idToToken = new string[size];
        _tokenToId = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (tok, id) in vocabulary) { _idToToken[id] = tok; _tokenToId[tok] = id; }
        foreach (var (tok, id) in specialTokens) { _idToToken[id] = tok; _tokenToId[tok] = id; }
        _tokenBytes = new byte[size][];
        for (int id = 0; id < size; id++)
        {
            var tok = _idToToken[id];
            if (tok is null) { _tokenBytes[id] = []; continue; }
            _tokenBytes[id] = specialTokens.ContainsKey(tok) ? Encoding.UTF8.GetBytes(tok)
                : kind == TokenizerKind.ByteLevelBpe ? ByteLevel.Decode(tok)
                : SentencePieceBytes(tok);
        }
    }

    public TokenizerKind Kind { get; }
    /// <summary>Highest token id + 1 (the model's vocab_size may be larger: padded embedding rows).</summary>
    public int VocabSize { get; }
    public IReadOnlyDictionary<string, int> SpecialTokens { get; }
    public int? BosTokenId { get; }
    public int? EosTokenId { get; }
    /// <summary>Whether a raw prompt gets BOS prepended (tokenizer_config add_bos_token / post_processor).</summary>
    public bool AddBos { get; }
    /// <summary>Whether a raw prompt gets EOS appended (tokenizer_config add_eos_token / tokenizer.ggml.add_eos_token).</summary>
    public bool AddEos { get; }
    /// <summary>SentencePiece with a dummy prefix: the space before the first piece is not part of the text.</summary>
    public bool StripsLeadingSpace { get; }

    /// <summary>Encodes text; special tokens written literally in the text (e.g. "&lt;|im_start|&gt;") map to their ids.</summary>
    public IReadOnlyList<int> Encode(string text, bool addBos = false, bool addEos = false)
    {
        var ids = _encode(text);
        bool bos = addBos && BosTokenId is not null, eos = addEos && EosTokenId is not null;
        if (!bos && !eos) return ids;
        var result = new List<int>(ids.Count + 2);
        if (bos) result.Add(BosTokenId!.Value);
        result.AddRange(ids);
        if (eos) result.Add(EosTokenId!.Value);
        return result;
    }

    /// <summary>The exact bytes this token contributes to the text (special tokens: their UTF-8 text).</summary>
    public ReadOnlySpan<byte> TokenBytes(int id) => (uint)id < (uint)_tokenBytes.Length ? _tokenBytes[id] : [];

    public bool IsSpecial(int id) => (uint)id < (uint)_idToToken.Length && _idToToken[id] is { } t && SpecialTokens.ContainsKey(t);

    /// <summary>Decodes ids to text (invalid UTF-8 becomes U+FFFD).</summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecial = false)
    {
        var bytes = new List<byte>();
        foreach (var id in ids)
            if (!(skipSpecial && IsSpecial(id))) bytes.AddRange(TokenBytes(id).ToArray());
        var text = Encoding.UTF8.GetString(bytes.ToArray());
        return StripsLeadingSpace && text.StartsWith(' ') ? text[1..] : text;
    }

    public int? TokenToId(string token) => _tokenToId.TryGetValue(token, out var id) ? id : null;
    public string? IdToToken(int id) => (uint)id < (uint)_idToToken.Length ? _idToToken[id] : null;

    /// <summary>SentencePiece piece to bytes: "▁" is a space, "&lt;0xAB&gt;" is a byte-fallback piece.</summary>
    private static byte[] SentencePieceBytes(string piece)
    {
        if (piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
            && byte.TryParse(piece.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out var b))
            return [b];
        if (piece is "<s>" or "</s>" or "<unk>" or "<pad>") return [];
        return Encoding.UTF8.GetBytes(piece.Replace('\u2581', ' '));
    }
}

/// <summary>
/// GPT-2's bytes_to_unicode table (openai/gpt-2 encoder.py): byte-level BPE vocabularies spell each byte as one
/// printable character. Hand-written because Microsoft.ML.Tokenizers keeps its copy internal.
/// </summary>
public static class ByteLevel
{
    private static readonly char[] ByteToChar = BuildTable();
    private static readonly Dictionary<char, byte> CharToByte = Enumerable.Range(0, 256).ToDictionary(i => ByteToChar[i], i => (byte)i);

    private static char[] BuildTable()
    {
        var table = new char[256];
        var printable = new bool[256];
        for (int b = '!'; b <= '~'; b++) printable[b] = true;
        for (int b = 0xA1; b <= 0xAC; b++) printable[b] = true;
        for (int b = 0xAE; b <= 0xFF; b++) printable[b] = true;
        int n = 0;
        for (int b = 0; b < 256; b++) table[b] = printable[b] ? (char)b : (char)(256 + n++);
        return table;
    }

    public static char Encode(byte b) => ByteToChar[b];

    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length);
        foreach (var b in bytes) sb.Append(ByteToChar[b]);
        return sb.ToString();
    }

    /// <summary>Token string to bytes; characters outside the table (should not occur) are kept as UTF-8.</summary>
    public static byte[] Decode(string token)
    {
        var bytes = new List<byte>(token.Length);
        foreach (var c in token)
        {
            if (CharToByte.TryGetValue(c, out var b)) bytes.Add(b);
            else bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
        }
        return bytes.ToArray();
    }
}
