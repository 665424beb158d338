using System.Text;

namespace Platform.Inference.Generation;

/// <summary>
/// Turns token bytes into safe text deltas: a UTF-8 <see cref="Decoder"/> keeps the bytes of a character split
/// across tokens until it completes, and text that could be the start of a stop string is held back until it
/// either completes the stop string (then it and everything after are dropped) or cannot anymore.
/// </summary>
public sealed class TextStreamAssembler
{
    private readonly Decoder _decoder = new UTF8Encoding(false, false).GetDecoder();
    private readonly IReadOnlyList<string> _stopStrings;
    private readonly StringBuilder _text = new();
    private readonly bool _stripLeadingSpace;
    private int _emitted;
    private char[] _chars = new char[64];

    /// <param name="stripLeadingSpace">SentencePiece: drop the dummy-prefix space of the first piece (as its decoder does).</param>
    public TextStreamAssembler(IReadOnlyList<string> stopStrings, bool stripLeadingSpace = false)
    {
        _stopStrings = stopStrings.Where(s => s.Length > 0).ToArray();
        _stripLeadingSpace = stripLeadingSpace;
    }

    /// <summary>Full text so far (including any held-back tail).</summary>
    public string Text => _text.ToString();
    public bool Stopped { get; private set; }

    /// <summary>Adds a token's bytes; returns the text that is now safe to emit (possibly empty).</summary>
    public string Append(ReadOnlySpan<byte> bytes, bool flush = false)
    {
        if (Stopped) return "";
        int needed = _decoder.GetCharCount(bytes, flush);
        if (needed > _chars.Length) _chars = new char[Math.Max(needed, _chars.Length * 2)];
        int n = _decoder.GetChars(bytes, _chars, flush);
        int start = 0;
        if (_stripLeadingSpace && _text.Length == 0 && n > 0 && _chars[0] == ' ') start = 1;
        _text.Append(_chars, start, n - start);
        return Release(flush);
    }

    /// <summary>End of generation: emits everything still held (incomplete bytes become U+FFFD).</summary>
    public string Flush() => Append([], flush: true);

    private string Release(bool final)
    {
        // Search for a stop string starting anywhere in the unemitted region (a match may begin in text held back).
        int searchFrom = _emitted;
        foreach (var stop in _stopStrings)
        {
            int at = IndexOf(stop, searchFrom);
            if (at >= 0)
            {
                Stopped = true;
                var delta = _text.ToString(_emitted, at - _emitted);
                _text.Length = at;
                _emitted = at;
                return delta;
            }
        }
        int safeEnd = _text.Length;
        if (!final)
        {
            // Hold back the longest suffix that is a proper prefix of some stop string.
            foreach (var stop in _stopStrings)
                for (int len = Math.Min(stop.Length - 1, _text.Length - _emitted); len > 0; len--)
                    if (EndsWith(stop.AsSpan(0, len)))
                    {
                        safeEnd = Math.Min(safeEnd, _text.Length - len);
                        break;
                    }
        }
        if (safeEnd <= _emitted) return "";
        var result = _text.ToString(_emitted, safeEnd - _emitted);
        _emitted = safeEnd;
        return result;
    }

    private int IndexOf(string value, int from)
    {
        if (_text.Length - from < value.Length) return -1;
        return _text.ToString(from, _text.Length - from).IndexOf(value, StringComparison.Ordinal) is var i && i >= 0 ? from + i : -1;
    }

    private bool EndsWith(ReadOnlySpan<char> suffix)
    {
        if (suffix.Length > _text.Length) return false;
        for (int i = 0; i < suffix.Length; i++)
            if (_text[_text.Length - suffix.Length + i] != suffix[i]) return false;
        return true;
    }
}
