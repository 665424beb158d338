namespace Platform.Inference.Chat.Jinja;

/// <summary>Template syntax tree. Every node keeps the line it starts on, for runtime error messages.</summary>
internal abstract record Node(int Line);

internal sealed record TextNode(string Value, int Line) : Node(Line);
internal sealed record CommentNode(int Line) : Node(Line);
internal sealed record IfNode(Node Test, List<Node> Body, List<Node> Alternate, int Line) : Node(Line);
internal sealed record ForNode(Node LoopVar, Node Iterable, List<Node> Body, List<Node> Default, int Line) : Node(Line);
internal sealed record BreakNode(int Line) : Node(Line);
internal sealed record ContinueNode(int Line) : Node(Line);
internal sealed record SetNode(Node Assignee, Node? Value, List<Node> Body, int Line) : Node(Line);
internal sealed record MacroNode(string Name, List<Node> Parameters, List<Node> Body, int Line) : Node(Line);
internal sealed record CallBlockNode(CallNode Call, List<Node>? CallerParameters, List<Node> Body, int Line) : Node(Line);
internal sealed record FilterBlockNode(Node Filter, List<Node> Body, int Line) : Node(Line);

internal sealed record IntLiteral(long Value, int Line) : Node(Line);
internal sealed record FloatLiteral(double Value, int Line) : Node(Line);
internal sealed record StringLiteral(string Value, int Line) : Node(Line);
internal sealed record ArrayLiteral(List<Node> Items, int Line) : Node(Line);
internal sealed record TupleLiteral(List<Node> Items, int Line) : Node(Line);
internal sealed record ObjectLiteral(List<(Node Key, Node Value)> Entries, int Line) : Node(Line);
internal sealed record IdentifierNode(string Name, int Line) : Node(Line);
internal sealed record MemberNode(Node Object, Node Property, bool Computed, int Line) : Node(Line);
internal sealed record SliceNode(Node? Start, Node? Stop, Node? Step, int Line) : Node(Line);
internal sealed record CallNode(Node Callee, List<Node> Args, int Line) : Node(Line);
internal sealed record KeywordArgNode(string Key, Node Value, int Line) : Node(Line);
internal sealed record SpreadNode(Node Argument, int Line) : Node(Line);
internal sealed record KeywordSpreadNode(Node Argument, int Line) : Node(Line);
internal sealed record BinaryNode(string Operator, Node Left, Node Right, int Line) : Node(Line);
internal sealed record UnaryNode(string Operator, Node Argument, int Line) : Node(Line);
internal sealed record FilterNode(Node Operand, Node Filter, int Line) : Node(Line);
internal sealed record TestNode(Node Operand, bool Negate, string Test, int Line) : Node(Line);
/// <summary><c>a if cond</c> without else: undefined when cond is false (also the for-loop's inline filter).</summary>
internal sealed record SelectNode(Node Value, Node Test, int Line) : Node(Line);
internal sealed record TernaryNode(Node Condition, Node TrueValue, Node FalseValue, int Line) : Node(Line);
