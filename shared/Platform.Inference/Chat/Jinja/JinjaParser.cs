using System.Globalization;

namespace Platform.Inference.Chat.Jinja;

/// <summary>
/// Recursive-descent parser over <see cref="JinjaLexer"/> tokens. Precedence, loosest first: conditional
/// (a if b else c), or, and, not, comparisons and in, + - ~, * / // %, **, is-tests, filters, unary sign,
/// calls and member access, as in @huggingface/jinja.
/// </summary>
internal sealed class JinjaParser
{
    private static readonly string[] BlockKeywords = ["elif", "else", "endif", "endfor", "endset", "endmacro", "endcall", "endfilter"];
    private readonly List<Token> _tokens;
    private int _current;

    private JinjaParser(List<Token> tokens) => _tokens = tokens;

    public static List<Node> Parse(string template)
    {
        var parser = new JinjaParser(JinjaLexer.Tokenize(template));
        var body = new List<Node>();
        while (parser._current < parser._tokens.Count) body.Add(parser.ParseAny());
        return body;
    }

    private Token Peek(int offset = 0) => _current + offset < _tokens.Count ? _tokens[_current + offset]
        : throw new JinjaSyntaxException("unexpected end of template (a block or expression is not closed)", _tokens.Count == 0 ? 1 : _tokens[^1].Line);
    private int Line => _current < _tokens.Count ? _tokens[_current].Line : _tokens.Count == 0 ? 1 : _tokens[^1].Line;
    private JinjaSyntaxException Error(string message) => new(message, Line);

    private bool Is(params TokenType[] types)
    {
        if (_current + types.Length > _tokens.Count) return false;
        for (int i = 0; i < types.Length; i++) if (_tokens[_current + i].Type != types[i]) return false;
        return true;
    }

    private bool IsIdentifier(params string[] names)
    {
        if (_current + names.Length > _tokens.Count) return false;
        for (int i = 0; i < names.Length; i++)
            if (_tokens[_current + i].Type != TokenType.Identifier || _tokens[_current + i].Value != names[i]) return false;
        return true;
    }

    private bool IsStatement(params string[] names) =>
        _current + 1 < _tokens.Count && _tokens[_current].Type == TokenType.OpenStatement
        && _tokens[_current + 1].Type == TokenType.Identifier && names.Contains(_tokens[_current + 1].Value);

    private Token Expect(TokenType type, string what)
    {
        var t = Peek();
        if (t.Type != type) throw new JinjaSyntaxException($"expected {what}, found {Describe(t)}", t.Line);
        _current++;
        return t;
    }

    private void ExpectIdentifier(string name)
    {
        if (!IsIdentifier(name)) throw Error($"expected '{name}', found {Describe(Peek())}");
        _current++;
    }

    private static string Describe(Token t) => t.Type switch
    {
        TokenType.Text => "text",
        TokenType.StringLiteral => $"string '{t.Value}'",
        TokenType.OpenStatement => "'{%'",
        TokenType.CloseStatement => "'%}'",
        TokenType.OpenExpression => "'{{'",
        TokenType.CloseExpression => "'}}'",
        _ => $"'{t.Value}'",
    };

    /// <summary>Reads body nodes until one of the closing statements; a missing one names the opening line.</summary>
    private List<Node> ParseUntil(int openLine, string opener, params string[] closers)
    {
        var body = new List<Node>();
        while (!IsStatement(closers))
        {
            if (IsStatement(BlockKeywords))
                throw new JinjaSyntaxException($"unexpected '{{% {_tokens[_current + 1].Value} %}}': the '{{% {opener} %}}' on line {openLine} expects "
                    + string.Join(" or ", closers.Select(c => $"'{{% {c} %}}'")), _tokens[_current].Line);
            if (_current >= _tokens.Count)
                throw new JinjaSyntaxException($"'{{% {opener} %}}' is not closed (expected {string.Join(" or ", closers.Select(c => $"'{{% {c} %}}'"))})", openLine);
            body.Add(ParseAny());
        }
        return body;
    }

    private Node ParseAny()
    {
        if (!System.Runtime.CompilerServices.RuntimeHelpers.TryEnsureSufficientExecutionStack())
            throw Error("blocks nest too deeply");
        var t = Peek();
        switch (t.Type)
        {
            case TokenType.Comment: _current++; return new CommentNode(t.Line);
            case TokenType.Text: _current++; return new TextNode(t.Value, t.Line);
            case TokenType.OpenStatement: return ParseStatement();
            case TokenType.OpenExpression:
            {
                _current++;
                var e = ParseExpression();
                Expect(TokenType.CloseExpression, "'}}'");
                return e;
            }
            default: throw new JinjaSyntaxException($"unexpected {Describe(t)}", t.Line);
        }
    }

    private Node ParseStatement()
    {
        var open = Expect(TokenType.OpenStatement, "'{%'");
        var nameToken = Peek();
        if (nameToken.Type != TokenType.Identifier) throw new JinjaSyntaxException($"expected a statement name after '{{%', found {Describe(nameToken)}", nameToken.Line);
        int line = open.Line;
        switch (nameToken.Value)
        {
            case "set":
                _current++;
                return ParseSet(line);
            case "if":
            {
                _current++;
                var node = ParseIf(line);
                CloseBlock("endif");
                return node;
            }
            case "for":
            {
                _current++;
                var node = ParseFor(line);
                CloseBlock("endfor");
                return node;
            }
            case "macro":
            {
                _current++;
                var name = ParsePrimary();
                if (name is not IdentifierNode id) throw new JinjaSyntaxException("expected a name after 'macro'", line);
                var parameters = ParseArgs(parameters: true);
                Expect(TokenType.CloseStatement, "'%}'");
                var body = ParseUntil(line, "macro", "endmacro");
                CloseBlock("endmacro");
                return new MacroNode(id.Name, parameters, body, line);
            }
            case "call":
            {
                _current++;
                List<Node>? callerParams = Is(TokenType.OpenParen) ? ParseArgs(parameters: true) : null;
                var callee = ParsePrimary();
                if (callee is not IdentifierNode) throw new JinjaSyntaxException("expected a macro name after 'call'", line);
                var args = ParseArgs(parameters: false);
                Expect(TokenType.CloseStatement, "'%}'");
                var body = ParseUntil(line, "call", "endcall");
                CloseBlock("endcall");
                return new CallBlockNode(new CallNode(callee, args, line), callerParams, body, line);
            }
            case "filter":
            {
                _current++;
                var filter = ParsePrimary();
                if (filter is IdentifierNode && Is(TokenType.OpenParen)) filter = ParseCall(filter);
                Expect(TokenType.CloseStatement, "'%}'");
                var body = ParseUntil(line, "filter", "endfilter");
                CloseBlock("endfilter");
                return new FilterBlockNode(filter, body, line);
            }
            case "break":
                _current++;
                Expect(TokenType.CloseStatement, "'%}'");
                return new BreakNode(line);
            case "continue":
                _current++;
                Expect(TokenType.CloseStatement, "'%}'");
                return new ContinueNode(line);
            default:
                throw new JinjaSyntaxException($"unknown statement '{nameToken.Value}'", nameToken.Line);
        }
    }

    private void CloseBlock(string name)
    {
        Expect(TokenType.OpenStatement, $"'{{% {name} %}}'");
        ExpectIdentifier(name);
        Expect(TokenType.CloseStatement, "'%}'");
    }

    private Node ParseSet(int line)
    {
        var left = ParseExpressionSequence(primary: false);
        if (Is(TokenType.Equals))
        {
            _current++;
            var value = ParseExpressionSequence(primary: false);
            Expect(TokenType.CloseStatement, "'%}'");
            return new SetNode(left, value, [], line);
        }
        Expect(TokenType.CloseStatement, "'=' or '%}'");
        var body = ParseUntil(line, "set", "endset");
        CloseBlock("endset");
        return new SetNode(left, null, body, line);
    }

    private IfNode ParseIf(int line)
    {
        var test = ParseExpression();
        Expect(TokenType.CloseStatement, "'%}'");
        var body = ParseUntil(line, "if", "elif", "else", "endif");
        var alternate = new List<Node>();
        if (IsStatement("elif"))
        {
            int elifLine = Peek().Line;
            _current += 2;
            alternate.Add(ParseIf(elifLine));
        }
        else if (IsStatement("else"))
        {
            _current += 2;
            Expect(TokenType.CloseStatement, "'%}'");
            alternate = ParseUntil(line, "if", "endif");
        }
        return new IfNode(test, body, alternate, line);
    }

    private ForNode ParseFor(int line)
    {
        var loopVar = ParseExpressionSequence(primary: true);
        if (loopVar is not (IdentifierNode or TupleLiteral)) throw new JinjaSyntaxException("expected a name or names after 'for'", line);
        if (!IsIdentifier("in")) throw Error("expected 'in' after the loop variable");
        _current++;
        var iterable = ParseExpression();
        Expect(TokenType.CloseStatement, "'%}'");
        var body = ParseUntil(line, "for", "endfor", "else");
        var otherwise = new List<Node>();
        if (IsStatement("else"))
        {
            _current += 2;
            Expect(TokenType.CloseStatement, "'%}'");
            otherwise = ParseUntil(line, "for", "endfor");
        }
        return new ForNode(loopVar, iterable, body, otherwise, line);
    }

    private Node ParseExpressionSequence(bool primary)
    {
        int line = Line;
        var first = primary ? ParsePrimary() : ParseExpression();
        if (!Is(TokenType.Comma)) return first;
        var items = new List<Node> { first };
        while (Is(TokenType.Comma))
        {
            _current++;
            items.Add(primary ? ParsePrimary() : ParseExpression());
        }
        return new TupleLiteral(items, line);
    }

    private Node ParseExpression()
    {
        // Deeply nested input must fail as a syntax error, not overflow the stack.
        if (!System.Runtime.CompilerServices.RuntimeHelpers.TryEnsureSufficientExecutionStack())
            throw Error("expression nests too deeply");
        return ParseIfExpression();
    }

    private Node ParseIfExpression()
    {
        var a = ParseOr();
        if (!IsIdentifier("if")) return a;
        int line = Line;
        _current++;
        var test = ParseOr();
        if (IsIdentifier("else"))
        {
            _current++;
            return new TernaryNode(test, a, ParseIfExpression(), line);
        }
        return new SelectNode(a, test, line);
    }

    private Node ParseOr()
    {
        var left = ParseAnd();
        while (IsIdentifier("or")) { int line = Line; _current++; left = new BinaryNode("or", left, ParseAnd(), line); }
        return left;
    }

    private Node ParseAnd()
    {
        var left = ParseNot();
        while (IsIdentifier("and")) { int line = Line; _current++; left = new BinaryNode("and", left, ParseNot(), line); }
        return left;
    }

    private Node ParseNot()
    {
        if (IsIdentifier("not") && !IsIdentifier("not", "in"))
        {
            int line = Line;
            _current++;
            return new UnaryNode("not", ParseNot(), line);
        }
        return ParseComparison();
    }

    private Node ParseComparison()
    {
        var left = ParseAdditive();
        while (true)
        {
            int line = Line;
            string op;
            if (IsIdentifier("not", "in")) { op = "not in"; _current += 2; }
            else if (IsIdentifier("in")) { op = "in"; _current++; }
            else if (Is(TokenType.ComparisonBinaryOperator)) op = _tokens[_current++].Value;
            else break;
            left = new BinaryNode(op, left, ParseAdditive(), line);
        }
        return left;
    }

    private Node ParseAdditive()
    {
        var left = ParseMultiplicative();
        while (Is(TokenType.AdditiveBinaryOperator)) { var op = _tokens[_current++]; left = new BinaryNode(op.Value, left, ParseMultiplicative(), op.Line); }
        return left;
    }

    private Node ParseMultiplicative()
    {
        var left = ParsePower();
        while (Is(TokenType.MultiplicativeBinaryOperator)) { var op = _tokens[_current++]; left = new BinaryNode(op.Value, left, ParsePower(), op.Line); }
        return left;
    }

    private Node ParsePower()
    {
        var left = ParseTest();
        while (Is(TokenType.ExponentiationBinaryOperator)) { var op = _tokens[_current++]; left = new BinaryNode(op.Value, left, ParseTest(), op.Line); }
        return left;
    }

    private Node ParseTest()
    {
        var operand = ParseFilter();
        while (IsIdentifier("is"))
        {
            int line = Line;
            _current++;
            bool negate = IsIdentifier("not");
            if (negate) _current++;
            var test = ParsePrimary();
            if (test is not IdentifierNode id) throw new JinjaSyntaxException("expected a test name after 'is'", line);
            operand = new TestNode(operand, negate, id.Name, line);
        }
        return operand;
    }

    private Node ParseFilter()
    {
        var operand = ParseUnarySign();
        while (Is(TokenType.Pipe))
        {
            int line = Line;
            _current++;
            Node filter = ParsePrimary();
            if (filter is not IdentifierNode) throw new JinjaSyntaxException("expected a filter name after '|'", line);
            if (Is(TokenType.OpenParen)) filter = ParseCall(filter);
            operand = new FilterNode(operand, filter, line);
        }
        return operand;
    }

    private Node ParseUnarySign()
    {
        var t = Peek();
        if (t.Type is TokenType.UnaryOperator or TokenType.AdditiveBinaryOperator && t.Value is "-" or "+")
        {
            _current++;
            return new UnaryNode(t.Value, ParseUnarySign(), t.Line);
        }
        var member = ParseMember(ParsePrimary());
        return Is(TokenType.OpenParen) ? ParseCall(member) : member;
    }

    private Node ParseCall(Node callee)
    {
        Node e = new CallNode(callee, ParseArgs(parameters: false), callee.Line);
        e = ParseMember(e);
        return Is(TokenType.OpenParen) ? ParseCall(e) : e;
    }

    private List<Node> ParseArgs(bool parameters)
    {
        Expect(TokenType.OpenParen, "'('");
        var args = new List<Node>();
        var names = new HashSet<string>();
        bool sawKeyword = false, sawSpread = false;
        while (!Is(TokenType.CloseParen))
        {
            int line = Line;
            bool keywordSpread = Is(TokenType.ExponentiationBinaryOperator);
            bool positionalSpread = Is(TokenType.MultiplicativeBinaryOperator) && Peek().Value == "*";
            if (parameters && (keywordSpread || positionalSpread)) throw Error("argument unpacking is not allowed in parameter declarations");
            if (keywordSpread)
            {
                _current++;
                args.Add(new KeywordSpreadNode(ParseExpression(), line));
                if (Is(TokenType.Comma)) _current++;
                if (!Is(TokenType.CloseParen)) throw Error("'**' must be applied to the last argument");
                break;
            }
            Node arg;
            if (positionalSpread)
            {
                if (sawSpread) throw Error("only one '*' argument unpacking is allowed");
                sawSpread = true;
                _current++;
                arg = new SpreadNode(ParseExpression(), line);
            }
            else
            {
                arg = ParseExpression();
                if (Is(TokenType.Equals))
                {
                    _current++;
                    if (arg is not IdentifierNode key) throw Error(parameters ? "expected a parameter name before '='" : "expected a keyword name before '='");
                    arg = new KeywordArgNode(key.Name, ParseExpression(), line);
                }
                if (parameters)
                {
                    string name = arg switch
                    {
                        IdentifierNode i => i.Name,
                        KeywordArgNode k => k.Key,
                        _ => throw Error("expected a parameter name"),
                    };
                    if (!names.Add(name)) throw Error($"duplicate parameter '{name}'");
                }
                if (arg is KeywordArgNode) sawKeyword = true;
                else if (sawKeyword) throw Error(parameters ? "a parameter without a default follows one with a default" : "a positional argument follows a keyword argument");
                else if (sawSpread) throw Error("a positional argument follows '*' unpacking");
            }
            args.Add(arg);
            if (Is(TokenType.Comma)) _current++;
            else if (!Is(TokenType.CloseParen)) throw Error($"expected ',' or ')', found {Describe(Peek())}");
        }
        Expect(TokenType.CloseParen, "')'");
        return args;
    }

    private Node ParseMember(Node obj)
    {
        while (Is(TokenType.Dot) || Is(TokenType.OpenSquareBracket))
        {
            var op = _tokens[_current++];
            if (op.Type == TokenType.OpenSquareBracket)
            {
                var property = ParseSubscript(op.Line);
                Expect(TokenType.CloseSquareBracket, "']'");
                obj = new MemberNode(obj, property, Computed: true, op.Line);
            }
            else
            {
                var property = ParsePrimary();
                if (property is not (IdentifierNode or IntLiteral)) throw new JinjaSyntaxException("expected a name after '.'", op.Line);
                obj = new MemberNode(obj, property, Computed: false, op.Line);
            }
        }
        return obj;
    }

    private Node ParseSubscript(int line)
    {
        var parts = new List<Node?>();
        bool isSlice = false;
        while (!Is(TokenType.CloseSquareBracket))
        {
            if (_current >= _tokens.Count) throw new JinjaSyntaxException("'[' is not closed", line);
            if (Is(TokenType.Colon)) { parts.Add(null); _current++; isSlice = true; }
            else
            {
                parts.Add(ParseExpression());
                if (Is(TokenType.Colon)) { _current++; isSlice = true; }
                else if (!Is(TokenType.CloseSquareBracket)) throw Error($"expected ']' or ':', found {Describe(Peek())}");
            }
        }
        if (parts.Count == 0) throw new JinjaSyntaxException("empty subscript '[]'", line);
        if (!isSlice) return parts[0]!;
        if (parts.Count > 3) throw new JinjaSyntaxException("a slice takes at most 3 parts", line);
        return new SliceNode(parts.ElementAtOrDefault(0), parts.ElementAtOrDefault(1), parts.ElementAtOrDefault(2), line);
    }

    private Node ParsePrimary()
    {
        var t = Peek();
        _current++;
        switch (t.Type)
        {
            case TokenType.NumericLiteral:
                return t.Value.Contains('.')
                    ? new FloatLiteral(double.Parse(t.Value, CultureInfo.InvariantCulture), t.Line)
                    : new IntLiteral(long.Parse(t.Value, CultureInfo.InvariantCulture), t.Line);
            case TokenType.StringLiteral:
            {
                string value = t.Value;
                while (Is(TokenType.StringLiteral)) value += _tokens[_current++].Value;
                return new StringLiteral(value, t.Line);
            }
            case TokenType.Identifier:
                return new IdentifierNode(t.Value, t.Line);
            case TokenType.OpenParen:
            {
                var e = ParseExpressionSequence(primary: false);
                Expect(TokenType.CloseParen, "')'");
                return e;
            }
            case TokenType.OpenSquareBracket:
            {
                var items = new List<Node>();
                while (!Is(TokenType.CloseSquareBracket))
                {
                    items.Add(ParseExpression());
                    if (Is(TokenType.Comma)) _current++;
                    else if (!Is(TokenType.CloseSquareBracket)) throw Error($"expected ',' or ']', found {Describe(Peek())}");
                }
                _current++;
                return new ArrayLiteral(items, t.Line);
            }
            case TokenType.OpenCurlyBracket:
            {
                var entries = new List<(Node, Node)>();
                while (!Is(TokenType.CloseCurlyBracket))
                {
                    var key = ParseExpression();
                    Expect(TokenType.Colon, "':' between a key and its value");
                    entries.Add((key, ParseExpression()));
                    if (Is(TokenType.Comma)) _current++;
                    else if (!Is(TokenType.CloseCurlyBracket)) throw Error($"expected ',' or '}}', found {Describe(Peek())}");
                }
                _current++;
                return new ObjectLiteral(entries, t.Line);
            }
            default:
                throw new JinjaSyntaxException($"unexpected {Describe(t)}", t.Line);
        }
    }
}
