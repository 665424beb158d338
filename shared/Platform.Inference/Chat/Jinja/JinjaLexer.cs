using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Platform.Inference.Chat.Jinja;

/// <summary>A template that cannot be parsed; <see cref="Line"/> is the 1-based line of the template text.</summary>
public sealed class JinjaSyntaxException(string message, int line)
    : Exception($"line {line}: {message}")
{
    public int Line { get; } = line;
    public string Reason { get; } = message;
}

/// <summary>A template that parsed but failed while rendering (raise_exception, a type error, an unknown filter).</summary>
public sealed class JinjaRuntimeException(string reason, int? line = null)
    : Exception(line is null ? reason : $"line {line}: {reason}")
{
    public string Reason { get; } = reason;
    public int? Line { get; } = line;
}

internal enum TokenType
{
    Text, NumericLiteral, StringLiteral, Identifier, Equals, OpenParen, CloseParen, OpenStatement, CloseStatement,
    OpenExpression, CloseExpression, OpenSquareBracket, CloseSquareBracket, OpenCurlyBracket, CloseCurlyBracket,
    Comma, Dot, Colon, Pipe, AdditiveBinaryOperator, MultiplicativeBinaryOperator, ExponentiationBinaryOperator,
    ComparisonBinaryOperator, UnaryOperator, Comment,
}

internal sealed record Token(string Value, TokenType Type, int Line)
{
    public string Value { get; set; } = Value;
}

/// <summary>
/// Splits a template into tokens the way Hugging Face chat templates are rendered: trim_blocks and lstrip_blocks
/// on (transformers sets both), one trailing newline dropped, <c>{%- -%}</c> style whitespace control, and the
/// <c>{% generation %}</c> markers (assistant-mask hints for training) removed. Each token keeps its source line.
/// </summary>
internal static class JinjaLexer
{
    private static readonly (string Seq, TokenType Type)[] Mapping =
    [
        ("{%", TokenType.OpenStatement), ("%}", TokenType.CloseStatement), ("{{", TokenType.OpenExpression),
        ("}}", TokenType.CloseExpression), ("(", TokenType.OpenParen), (")", TokenType.CloseParen),
        ("{", TokenType.OpenCurlyBracket), ("}", TokenType.CloseCurlyBracket), ("[", TokenType.OpenSquareBracket),
        ("]", TokenType.CloseSquareBracket), (",", TokenType.Comma), (".", TokenType.Dot), (":", TokenType.Colon),
        ("|", TokenType.Pipe), ("<=", TokenType.ComparisonBinaryOperator), (">=", TokenType.ComparisonBinaryOperator),
        ("==", TokenType.ComparisonBinaryOperator), ("!=", TokenType.ComparisonBinaryOperator),
        ("<", TokenType.ComparisonBinaryOperator), (">", TokenType.ComparisonBinaryOperator),
        ("+", TokenType.AdditiveBinaryOperator), ("-", TokenType.AdditiveBinaryOperator), ("~", TokenType.AdditiveBinaryOperator),
        ("**", TokenType.ExponentiationBinaryOperator), ("*", TokenType.MultiplicativeBinaryOperator),
        ("//", TokenType.MultiplicativeBinaryOperator), ("/", TokenType.MultiplicativeBinaryOperator),
        ("%", TokenType.MultiplicativeBinaryOperator), ("=", TokenType.Equals),
    ];

    private static readonly Regex LstripBlocks = new(@"^[ \t]*(\{[#%-])", RegexOptions.Multiline | RegexOptions.CultureInvariant);
    private static readonly Regex TrimBlocks = new(@"([#%-]\})\n", RegexOptions.CultureInvariant);
    private static readonly Regex GenerationTags = new(@"(\s*)\{%(-?)\s*(?:end)?generation\s*(-?)%\}(\s*)", RegexOptions.Singleline | RegexOptions.CultureInvariant);

    /// <summary>Text plus the source line of every character, so errors after preprocessing still name a line.</summary>
    private readonly record struct Source(string Text, int[] Lines);

    public static List<Token> Tokenize(string template)
    {
        var lines = new int[template.Length];
        for (int i = 0, line = 1; i < template.Length; i++) { lines[i] = line; if (template[i] == '\n') line++; }
        var src = new Source(template, lines);
        if (src.Text.EndsWith('\n')) src = new Source(src.Text[..^1], src.Lines[..^1]);
        src = Replace(src, LstripBlocks, m => [m.Groups[1]]);
        src = Replace(src, TrimBlocks, m => [m.Groups[1]]);
        src = Replace(src, GenerationTags, m =>
            (m.Groups[2].Length > 0 ? Array.Empty<Group>() : [m.Groups[1]]).Concat(m.Groups[3].Length > 0 ? [] : [m.Groups[4]]).ToArray());
        return new Scanner(src.Text, src.Lines).Run();
    }

    /// <summary>Regex.Replace whose replacement is made of the match's own groups, carrying their line numbers.</summary>
    private static Source Replace(Source src, Regex regex, Func<Match, Group[]> keep)
    {
        var text = new StringBuilder(src.Text.Length);
        var lines = new List<int>(src.Lines.Length);
        int pos = 0;
        foreach (Match m in regex.Matches(src.Text))
        {
            text.Append(src.Text, pos, m.Index - pos);
            lines.AddRange(new ArraySegment<int>(src.Lines, pos, m.Index - pos));
            foreach (var g in keep(m))
            {
                text.Append(src.Text, g.Index, g.Length);
                lines.AddRange(new ArraySegment<int>(src.Lines, g.Index, g.Length));
            }
            pos = m.Index + m.Length;
        }
        text.Append(src.Text, pos, src.Text.Length - pos);
        lines.AddRange(new ArraySegment<int>(src.Lines, pos, src.Text.Length - pos));
        return new Source(text.ToString(), lines.ToArray());
    }

    private sealed class Scanner(string src, int[] lines)
    {
        private readonly List<Token> _tokens = [];
        private int _pos;
        private int _curlyDepth;

        private int Line => lines.Length == 0 ? 1 : lines[Math.Min(_pos, lines.Length - 1)];
        private char At(int i) => i < src.Length ? src[i] : '\0';
        private TokenType? LastType => _tokens.Count == 0 ? null : _tokens[^1].Type;
        private void Push(string value, TokenType type, int line) => _tokens.Add(new Token(value, type, line));
        private JinjaSyntaxException Error(string message) => new(message, Line);

        private static bool IsWord(char c) => c < 128 && (char.IsAsciiLetterOrDigit(c) || c == '_');
        private static bool IsWhitespace(char c) => JsText.IsJsWhiteSpace(c);

        public List<Token> Run()
        {
            while (_pos < src.Length)
            {
                if (LastType is null or TokenType.CloseStatement or TokenType.CloseExpression or TokenType.Comment)
                {
                    int start = _pos, line = Line;
                    while (_pos < src.Length && !(src[_pos] == '{' && At(_pos + 1) is '%' or '{' or '#')) _pos++;
                    if (_pos > start) { Push(src[start.._pos], TokenType.Text, line); continue; }
                }
                if (src[_pos] == '{' && At(_pos + 1) == '#') { Comment(); continue; }
                if (StartsWith("{%-")) { StripTrailingWhitespace(); Push("{%", TokenType.OpenStatement, Line); _pos += 3; continue; }
                if (StartsWith("{{-")) { StripTrailingWhitespace(); Push("{{", TokenType.OpenExpression, Line); _curlyDepth = 0; _pos += 3; continue; }
                while (_pos < src.Length && IsWhitespace(src[_pos])) _pos++;
                if (_pos >= src.Length) throw Error("unexpected end of template inside a tag");
                if (StartsWith("-%}")) { Push("%}", TokenType.CloseStatement, Line); _pos += 3; SkipLeadingWhitespace(); continue; }
                if (StartsWith("-}}")) { Push("}}", TokenType.CloseExpression, Line); _pos += 3; SkipLeadingWhitespace(); continue; }
                char c = src[_pos];
                if (c is '-' or '+' && SignedNumberOrUnary(c)) continue;
                if (MappedToken()) continue;
                if (c is '\'' or '"')
                {
                    int line = Line;
                    _pos++;
                    string s = ConsumeString(c);
                    Push(s, TokenType.StringLiteral, line);
                    _pos++;
                    continue;
                }
                if (char.IsAsciiDigit(c))
                {
                    int line = Line;
                    string num = ConsumeDigits();
                    if (LastType != TokenType.Dot && At(_pos) == '.' && char.IsAsciiDigit(At(_pos + 1))) { _pos++; num += "." + ConsumeDigits(); }
                    Push(num, TokenType.NumericLiteral, line);
                    continue;
                }
                if (IsWord(c))
                {
                    int line = Line, start = _pos;
                    while (_pos < src.Length && IsWord(src[_pos])) _pos++;
                    Push(src[start.._pos], TokenType.Identifier, line);
                    continue;
                }
                throw Error($"unexpected character '{c}'");
            }
            return _tokens;
        }

        private bool StartsWith(string s) => string.CompareOrdinal(src, _pos, s, 0, s.Length) == 0 && _pos + s.Length <= src.Length;

        private void Comment()
        {
            int line = Line;
            _pos += 2;
            bool stripBefore = At(_pos) == '-';
            if (stripBefore) _pos++;
            int start = _pos;
            while (!(At(_pos) == '#' && At(_pos + 1) == '}'))
            {
                if (_pos + 2 >= src.Length) throw new JinjaSyntaxException("comment is not closed with #}", line);
                _pos++;
            }
            string comment = src[start.._pos];
            bool stripAfter = comment.EndsWith('-');
            if (stripAfter) comment = comment[..^1];
            if (stripBefore) StripTrailingWhitespace();
            Push(comment, TokenType.Comment, line);
            _pos += 2;
            if (stripAfter) SkipLeadingWhitespace();
        }

        private void StripTrailingWhitespace()
        {
            if (_tokens.Count == 0 || _tokens[^1].Type != TokenType.Text) return;
            _tokens[^1].Value = JsText.TrimEnd(_tokens[^1].Value);
            if (_tokens[^1].Value.Length == 0) _tokens.RemoveAt(_tokens.Count - 1);
        }

        private void SkipLeadingWhitespace()
        {
            while (_pos < src.Length && IsWhitespace(src[_pos])) _pos++;
        }

        /// <summary>A '-' or '+' after an operator or an opening bracket starts a number ("-1") or is a unary sign.</summary>
        private bool SignedNumberOrUnary(char c)
        {
            switch (LastType)
            {
                case null or TokenType.Text: throw Error($"unexpected character '{c}'");
                case TokenType.Identifier or TokenType.NumericLiteral or TokenType.StringLiteral or TokenType.CloseParen or TokenType.CloseSquareBracket:
                    return false;
            }
            int line = Line;
            _pos++;
            string num = ConsumeDigits();
            if (num.Length > 0 && At(_pos) == '.' && char.IsAsciiDigit(At(_pos + 1))) { _pos++; num += "." + ConsumeDigits(); }
            Push(c + num, num.Length > 0 ? TokenType.NumericLiteral : TokenType.UnaryOperator, line);
            return true;
        }

        private bool MappedToken()
        {
            foreach (var (seq, type) in Mapping)
            {
                if (seq == "}}" && _curlyDepth > 0) continue;
                if (!StartsWith(seq)) continue;
                Push(seq, type, Line);
                if (type == TokenType.OpenExpression) _curlyDepth = 0;
                else if (type == TokenType.OpenCurlyBracket) _curlyDepth++;
                else if (type == TokenType.CloseCurlyBracket) _curlyDepth--;
                _pos += seq.Length;
                return true;
            }
            return false;
        }

        private string ConsumeDigits()
        {
            int start = _pos;
            while (_pos < src.Length && char.IsAsciiDigit(src[_pos])) _pos++;
            return src[start.._pos];
        }

        /// <summary>A quoted string's body with backslash escapes (\n \t \r \b \f \v \' \" \\ \xHH \uHHHH).</summary>
        private string ConsumeString(char quote)
        {
            int line = Line;
            var sb = new StringBuilder();
            while (true)
            {
                if (_pos >= src.Length) throw new JinjaSyntaxException("string literal is not closed", line);
                char ch = src[_pos];
                if (ch == quote) return sb.ToString();
                if (ch == '\\')
                {
                    _pos++;
                    if (_pos >= src.Length) throw new JinjaSyntaxException("string literal is not closed", line);
                    char e = src[_pos++];
                    if (e is 'x' or 'u')
                    {
                        int len = e == 'x' ? 2 : 4;
                        string hex = _pos + len <= src.Length ? src.Substring(_pos, len) : src[_pos..];
                        if (hex.Length != len || !hex.All(char.IsAsciiHexDigit)) throw Error($"invalid escape \\{e}{hex}");
                        sb.Append((char)int.Parse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                        _pos += len;
                        continue;
                    }
                    sb.Append(e switch
                    {
                        'n' => '\n', 't' => '\t', 'r' => '\r', 'b' => '\b', 'f' => '\f', 'v' => '\v', '\'' => '\'', '"' => '"', '\\' => '\\',
                        _ => throw Error($"unexpected escaped character '{e}'"),
                    });
                    continue;
                }
                sb.Append(ch);
                _pos++;
            }
        }
    }
}
