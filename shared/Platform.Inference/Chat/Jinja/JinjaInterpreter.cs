using System.Globalization;
using System.Text;

namespace Platform.Inference.Chat.Jinja;

/// <summary>
/// Evaluates a parsed template. Semantics follow @huggingface/jinja 0.5.x (the renderer transformers.js uses),
/// which our differential tests check output for output: Python-style scoping (a <c>set</c> inside a loop stays in
/// the loop, namespace() objects carry state out of it), macros that see their caller's variables, JavaScript
/// equality for <c>==</c>, and lenient attribute access (a missing key is undefined, not an error).
/// </summary>
internal sealed class JinjaInterpreter
{
    private const int MaxCallDepth = 256;
    private const int MaxRangeLength = 1_000_000;
    private int _depth;

    private sealed class BreakSignal : Exception;
    private sealed class ContinueSignal : Exception;

    public static void AddGlobals(JinjaScope scope)
    {
        scope.Set("false", JinjaValue.False);
        scope.Set("true", JinjaValue.True);
        scope.Set("none", JinjaValue.None);
        scope.Set("False", JinjaValue.False);
        scope.Set("True", JinjaValue.True);
        scope.Set("None", JinjaValue.None);
        scope.Set("raise_exception", new JinjaFunction((args, _) =>
            throw new JinjaRuntimeException("raise_exception: " + string.Join(" ", args.Select(a => a.Render())))));
        scope.Set("range", new JinjaFunction((args, _) => Range(args)));
        scope.Set("strftime_now", new JinjaFunction((args, _) =>
            args.Count > 0 && args[0] is JinjaString f ? new JinjaString(Strftime(DateTime.Now, f.Value))
                : throw new JinjaRuntimeException("strftime_now() takes a format string")));
        scope.Set("namespace", new JinjaFunction((args, _) => Namespace(args)));
    }

    public string RenderBlock(List<Node> nodes, JinjaScope scope)
    {
        var sb = new StringBuilder();
        foreach (var node in nodes)
        {
            var v = Evaluate(node, scope);
            if (v is not (JinjaNone or JinjaUndefined)) sb.Append(v.Render());
        }
        return sb.ToString();
    }

    private static JinjaRuntimeException Fail(Node node, string message) => new(message, node.Line);

    public JinjaValue Evaluate(Node node, JinjaScope scope)
    {
        System.Runtime.CompilerServices.RuntimeHelpers.EnsureSufficientExecutionStack();
        try
        {
            return EvaluateCore(node, scope);
        }
        catch (JinjaRuntimeException e) when (e.Line is null)
        {
            throw new JinjaRuntimeException(e.Reason, node.Line);
        }
    }

    private JinjaValue EvaluateCore(Node node, JinjaScope scope)
    {
        switch (node)
        {
            case TextNode t: return new JinjaString(t.Value);
            case CommentNode: return JinjaValue.None;
            case StringLiteral s: return new JinjaString(s.Value);
            case IntLiteral i: return new JinjaInt(i.Value);
            case FloatLiteral f: return new JinjaFloat(f.Value);
            case ArrayLiteral a: return new JinjaArray(a.Items.Select(x => Evaluate(x, scope)).ToList());
            case TupleLiteral t: return new JinjaTuple(t.Items.Select(x => Evaluate(x, scope)).ToList());
            case ObjectLiteral o:
            {
                var obj = new JinjaObject();
                foreach (var (k, v) in o.Entries)
                {
                    if (Evaluate(k, scope) is not JinjaString key) throw Fail(k, "object keys must be strings");
                    obj.Set(key.Value, Evaluate(v, scope));
                }
                return obj;
            }
            case IdentifierNode id: return scope.Lookup(id.Name);
            case IfNode n: return new JinjaString(RenderBlock(Evaluate(n.Test, scope).IsTruthy ? n.Body : n.Alternate, scope));
            case ForNode n: return EvaluateFor(n, scope);
            case SetNode n: return EvaluateSet(n, scope);
            case MacroNode n: return DefineMacro(n, scope);
            case CallBlockNode n: return EvaluateCallBlock(n, scope);
            case FilterBlockNode n: return JinjaFilters.Apply(this, new JinjaString(RenderBlock(n.Body, scope)), n.Filter, scope);
            case BreakNode: throw new BreakSignal();
            case ContinueNode: throw new ContinueSignal();
            case CallNode c: return EvaluateCall(c, scope);
            case MemberNode m: return EvaluateMember(m, scope);
            case UnaryNode u: return EvaluateUnary(u, scope);
            case BinaryNode b: return EvaluateBinary(b, scope);
            case FilterNode f: return JinjaFilters.Apply(this, Evaluate(f.Operand, scope), f.Filter, scope);
            case TestNode t:
            {
                var operand = Evaluate(t.Operand, scope);
                bool result = JinjaTestFunctions.Run(t.Test, operand, JinjaValue.Undefined);
                return JinjaValue.Bool(t.Negate ? !result : result);
            }
            case SelectNode s: return Evaluate(s.Test, scope).IsTruthy ? Evaluate(s.Value, scope) : JinjaValue.Undefined;
            case TernaryNode t: return Evaluate(t.Condition, scope).IsTruthy ? Evaluate(t.TrueValue, scope) : Evaluate(t.FalseValue, scope);
            default: throw Fail(node, $"cannot evaluate {node.GetType().Name} here");
        }
    }

    // ---- statements -------------------------------------------------------------------------------------------

    private JinjaValue EvaluateSet(SetNode n, JinjaScope scope)
    {
        JinjaValue rhs = n.Value is not null ? Evaluate(n.Value, scope) : new JinjaString(RenderBlock(n.Body, scope));
        switch (n.Assignee)
        {
            case IdentifierNode id:
                scope.Set(id.Name, rhs);
                break;
            case TupleLiteral tuple:
                if (rhs is not JinjaArray arr) throw Fail(n, $"cannot unpack non-iterable type in set: {rhs.TypeName}");
                if (arr.Items.Count != tuple.Items.Count) throw Fail(n, $"too {(tuple.Items.Count > arr.Items.Count ? "few" : "many")} items to unpack in set");
                for (int i = 0; i < tuple.Items.Count; i++)
                {
                    if (tuple.Items[i] is not IdentifierNode name) throw Fail(n, "cannot unpack to a non-name in set");
                    scope.Set(name.Name, arr.Items[i]);
                }
                break;
            case MemberNode member:
                if (Evaluate(member.Object, scope) is not JinjaNamespace ns) throw Fail(n, "cannot assign an attribute on a non-namespace object");
                if (member.Computed || member.Property is not IdentifierNode prop) throw Fail(n, "cannot assign to a member with a non-name property");
                ns.Set(prop.Name, rhs);
                break;
            default:
                throw Fail(n, "invalid left-hand side of set");
        }
        return JinjaValue.None;
    }

    private JinjaValue EvaluateFor(ForNode n, JinjaScope scope)
    {
        var loopScope = new JinjaScope(scope);
        Node? test = null;
        JinjaValue iterable;
        if (n.Iterable is SelectNode select) { iterable = Evaluate(select.Value, loopScope); test = select.Test; }
        else iterable = Evaluate(n.Iterable, loopScope);

        List<JinjaValue> source = iterable switch
        {
            JinjaArray a => a.Items,
            JinjaObject o when JinjaFilters.IsMapping(o) => o.Keys.Select(k => (JinjaValue)new JinjaString(k)).ToList(),
            _ => throw Fail(n, $"expected an iterable or object in the for loop, got {iterable.TypeName}"),
        };

        var items = new List<JinjaValue>();
        foreach (var current in source)
        {
            if (test is not null)
            {
                var filterScope = new JinjaScope(loopScope);
                BindLoopVariable(n, filterScope, current);
                if (!Evaluate(test, filterScope).IsTruthy) continue;
            }
            items.Add(current);
        }

        var sb = new StringBuilder();
        bool iterated = false;
        for (int i = 0; i < items.Count; i++)
        {
            var loop = new JinjaObject();
            loop.Set("index", new JinjaInt(i + 1));
            loop.Set("index0", new JinjaInt(i));
            loop.Set("revindex", new JinjaInt(items.Count - i));
            loop.Set("revindex0", new JinjaInt(items.Count - i - 1));
            loop.Set("first", JinjaValue.Bool(i == 0));
            loop.Set("last", JinjaValue.Bool(i == items.Count - 1));
            loop.Set("length", new JinjaInt(items.Count));
            loop.Set("previtem", i > 0 ? items[i - 1] : JinjaValue.Undefined);
            loop.Set("nextitem", i < items.Count - 1 ? items[i + 1] : JinjaValue.Undefined);
            loopScope.Set("loop", loop);
            BindLoopVariable(n, loopScope, items[i]);
            // Output of an iteration that breaks or continues part-way is dropped with it, as in the reference.
            try { sb.Append(RenderBlock(n.Body, loopScope)); }
            catch (ContinueSignal) { continue; }
            catch (BreakSignal) { break; }
            iterated = true;
        }
        if (!iterated) sb.Append(RenderBlock(n.Default, loopScope));
        return new JinjaString(sb.ToString());
    }

    private void BindLoopVariable(ForNode n, JinjaScope scope, JinjaValue current)
    {
        switch (n.LoopVar)
        {
            case IdentifierNode id:
                scope.Set(id.Name, current);
                break;
            case TupleLiteral tuple:
                if (current is not JinjaArray arr)
                    throw Fail(n, $"cannot unpack non-iterable type: {current.TypeName}");
                if (arr.Items.Count != tuple.Items.Count) throw Fail(n, $"too {(tuple.Items.Count > arr.Items.Count ? "few" : "many")} items to unpack");
                for (int j = 0; j < tuple.Items.Count; j++)
                {
                    if (tuple.Items[j] is not IdentifierNode name) throw Fail(n, "cannot unpack to a non-name");
                    scope.Set(name.Name, arr.Items[j]);
                }
                break;
            default:
                throw Fail(n, "invalid loop variable");
        }
    }

    private JinjaValue DefineMacro(MacroNode n, JinjaScope scope)
    {
        var special = SpecialArguments(n.Parameters, n.Body);
        scope.Set(n.Name, new JinjaFunction((args, callerScope) =>
        {
            var macroScope = new JinjaScope(callerScope);
            BindArguments($"'{n.Name}'", n.Parameters, special, args, macroScope);
            return new JinjaString(Nested(() => RenderBlock(n.Body, macroScope)));
        }));
        return JinjaValue.None;
    }

    private JinjaValue EvaluateCallBlock(CallBlockNode n, JinjaScope scope)
    {
        var parameters = n.CallerParameters ?? [];
        var special = SpecialArguments(parameters, n.Body);
        var caller = new JinjaFunction((callerArgs, _) =>
        {
            var blockScope = new JinjaScope(scope);
            BindArguments("None", parameters, special, callerArgs, blockScope);
            return new JinjaString(RenderBlock(n.Body, blockScope));
        });
        var (positional, keywords) = EvaluateArguments(n.Call.Args, scope);
        positional.Add(keywords);
        if (Evaluate(n.Call.Callee, scope) is not JinjaFunction fn) throw Fail(n, "cannot call something that is not a function");
        var callScope = new JinjaScope(scope);
        callScope.Set("caller", caller);
        return fn.Call(positional, callScope);
    }

    private T Nested<T>(Func<T> body)
    {
        if (++_depth > MaxCallDepth) { _depth = 0; throw new JinjaRuntimeException($"macro calls nested deeper than {MaxCallDepth}"); }
        try { return body(); }
        finally { if (_depth > 0) _depth--; }
    }

    /// <summary>Binds parameters (positional, then keyword, then defaults evaluated in the macro's scope).</summary>
    private void BindArguments(string name, List<Node> parameters, (bool Kwargs, bool Varargs) special, IReadOnlyList<JinjaValue> args, JinjaScope scope)
    {
        var positional = args.ToList();
        var keywords = new JinjaObject();
        if (positional.Count > 0 && positional[^1] is JinjaKeywordArgs kw)
        {
            positional.RemoveAt(positional.Count - 1);
            foreach (var e in kw.Entries) keywords.Set(e.Key, e.Value);
        }
        var pending = new List<(string, Node)>();
        for (int i = 0; i < parameters.Count; i++)
        {
            var (pname, defaultValue) = parameters[i] switch
            {
                IdentifierNode id => (id.Name, (Node?)null),
                KeywordArgNode k => (k.Key, k.Value),
                _ => throw new JinjaRuntimeException("invalid parameter"),
            };
            JinjaValue? value = i < positional.Count ? positional[i] : null;
            if (value is null && keywords.TryGet(pname, out var kv)) { value = kv; keywords.Remove(pname); }
            if (value is null && defaultValue is not null) pending.Add((pname, defaultValue));
            scope.Set(pname, value ?? JinjaValue.Undefined);
        }
        if (special.Kwargs)
        {
            var kwargs = new JinjaObject();
            foreach (var e in keywords.Entries) kwargs.Set(e.Key, e.Value);
            scope.Set("kwargs", kwargs);
        }
        else if (keywords.Count > 0) throw new JinjaRuntimeException($"macro {name} takes no keyword argument '{keywords.Keys.First()}'");
        if (special.Varargs) scope.Set("varargs", new JinjaArray(positional.Skip(parameters.Count).ToList()));
        else if (positional.Count > parameters.Count) throw new JinjaRuntimeException($"macro {name} takes not more than {parameters.Count} argument(s)");
        foreach (var (pname, defaultValue) in pending) scope.Set(pname, Evaluate(defaultValue, scope));
    }

    /// <summary>Whether a macro's body reads <c>kwargs</c> or <c>varargs</c> without declaring them (then it accepts extra arguments).</summary>
    private static (bool Kwargs, bool Varargs) SpecialArguments(List<Node> parameters, List<Node> body)
    {
        var declared = new HashSet<string>(parameters.Select(p => p switch { IdentifierNode i => i.Name, KeywordArgNode k => k.Key, _ => "" }));
        bool kwargs = false, varargs = false;
        foreach (var id in Identifiers(body))
        {
            if (id == "kwargs" && !declared.Contains(id)) kwargs = true;
            if (id == "varargs" && !declared.Contains(id)) varargs = true;
        }
        return (kwargs, varargs);
    }

    private static IEnumerable<string> Identifiers(IEnumerable<Node?> nodes)
    {
        foreach (var node in nodes)
        {
            if (node is null) continue;
            if (node is IdentifierNode id) { yield return id.Name; continue; }
            if (node is MemberNode { Computed: false } m) { foreach (var x in Identifiers([m.Object])) yield return x; continue; }
            foreach (var x in Identifiers(Children(node))) yield return x;
        }
    }

    private static IEnumerable<Node?> Children(Node node) => node switch
    {
        IfNode n => [n.Test, .. n.Body, .. n.Alternate],
        ForNode n => [n.LoopVar, n.Iterable, .. n.Body, .. n.Default],
        SetNode n => new Node?[] { n.Assignee, n.Value }.Concat(n.Body),
        MacroNode n => [.. n.Parameters, .. n.Body],
        CallBlockNode n => [n.Call, .. n.CallerParameters ?? [], .. n.Body],
        FilterBlockNode n => [n.Filter, .. n.Body],
        ArrayLiteral n => n.Items,
        TupleLiteral n => n.Items,
        ObjectLiteral n => n.Entries.SelectMany(e => new[] { e.Key, e.Value }),
        MemberNode n => [n.Object, n.Property],
        SliceNode n => new Node?[] { n.Start, n.Stop, n.Step },
        CallNode n => [n.Callee, .. n.Args],
        KeywordArgNode n => [n.Value],
        SpreadNode n => [n.Argument],
        KeywordSpreadNode n => [n.Argument],
        BinaryNode n => [n.Left, n.Right],
        UnaryNode n => [n.Argument],
        FilterNode n => [n.Operand, n.Filter],
        TestNode n => [n.Operand],
        SelectNode n => [n.Value, n.Test],
        TernaryNode n => [n.Condition, n.TrueValue, n.FalseValue],
        _ => [],
    };

    // ---- expressions ------------------------------------------------------------------------------------------

    public (List<JinjaValue> Positional, JinjaKeywordArgs Keywords) EvaluateArguments(List<Node> args, JinjaScope scope)
    {
        var positional = new List<JinjaValue>();
        var keywords = new JinjaKeywordArgs();
        foreach (var a in args)
        {
            if (a is SpreadNode spread)
            {
                if (Evaluate(spread.Argument, scope) is not JinjaArray arr) throw Fail(a, "cannot unpack a non-iterable with '*'");
                positional.AddRange(arr.Items);
            }
            else if (a is not (KeywordArgNode or KeywordSpreadNode)) positional.Add(Evaluate(a, scope));
        }
        foreach (var a in args)
        {
            if (a is KeywordArgNode k)
            {
                if (keywords.ContainsKey(k.Key)) throw Fail(a, $"got multiple values for keyword argument '{k.Key}'");
                keywords.Set(k.Key, Evaluate(k.Value, scope));
            }
            else if (a is KeywordSpreadNode ks)
            {
                if (Evaluate(ks.Argument, scope) is not JinjaObject o || !JinjaFilters.IsMapping(o)) throw Fail(a, "the argument after ** must be a mapping");
                foreach (var e in o.Entries)
                {
                    if (keywords.ContainsKey(e.Key)) throw Fail(a, $"got multiple values for keyword argument '{e.Key}'");
                    keywords.Set(e.Key, e.Value);
                }
            }
        }
        return (positional, keywords);
    }

    private JinjaValue EvaluateCall(CallNode c, JinjaScope scope)
    {
        var (args, kwargs) = EvaluateArguments(c.Args, scope);
        if (kwargs.Count > 0) args.Add(kwargs);
        var fn = Evaluate(c.Callee, scope);
        if (fn is not JinjaFunction f) throw Fail(c, $"cannot call something that is not a function: got {fn.TypeName}" + (c.Callee is IdentifierNode id ? $" ('{id.Name}')" : ""));
        return f.Call(args, scope);
    }

    private JinjaValue EvaluateMember(MemberNode m, JinjaScope scope)
    {
        var obj = Evaluate(m.Object, scope);
        JinjaValue property;
        if (m.Computed)
        {
            if (m.Property is SliceNode slice) return EvaluateSlice(obj, slice, scope);
            property = Evaluate(m.Property, scope);
        }
        else property = m.Property switch
        {
            IntLiteral i => new JinjaInt(i.Value),
            IdentifierNode id => new JinjaString(id.Name),
            _ => throw Fail(m, "invalid attribute"),
        };

        JinjaValue? value;
        if (obj is JinjaObject o)
        {
            if (property is not JinjaString key) throw Fail(m, $"cannot access a property with a non-string: got {property.TypeName}");
            value = o.TryGet(key.Value, out var v) ? v : JinjaFilters.IsMapping(o) ? JinjaBuiltins.ForObject(o, key.Value) : null;
        }
        else if (obj is JinjaArray or JinjaString)
        {
            if (property is JinjaInt index)
            {
                if (obj is JinjaString s)
                {
                    long i = index.Value < 0 ? s.Value.Length + index.Value : index.Value;
                    value = i >= 0 && i < s.Value.Length ? new JinjaString(s.Value[(int)i].ToString()) : null;
                }
                else
                {
                    var items = ((JinjaArray)obj).Items;
                    long i = index.Value < 0 ? items.Count + index.Value : index.Value;
                    value = i >= 0 && i < items.Count ? items[(int)i] : null;
                }
            }
            else if (property is JinjaString name)
                value = obj is JinjaString s ? JinjaBuiltins.ForString(s, name.Value) : name.Value == "length" ? new JinjaInt(((JinjaArray)obj).Items.Count) : null;
            else throw Fail(m, $"cannot access a property with a non-string/non-number: got {property.TypeName}");
        }
        else
        {
            if (property is not JinjaString) throw Fail(m, $"cannot access a property with a non-string: got {property.TypeName}");
            value = null;
        }
        return value ?? JinjaValue.Undefined;
    }

    private JinjaValue EvaluateSlice(JinjaValue obj, SliceNode slice, JinjaScope scope)
    {
        if (obj is not (JinjaArray or JinjaString)) throw Fail(slice, "slice object must be an array or string");
        long? Part(Node? n, string what)
        {
            if (n is null) return null;
            var v = Evaluate(n, scope);
            return v switch
            {
                JinjaInt i => i.Value,
                JinjaUndefined => null,
                _ => throw Fail(slice, $"slice {what} must be numeric or undefined"),
            };
        }
        long? start = Part(slice.Start, "start"), stop = Part(slice.Stop, "stop"), step = Part(slice.Step, "step");
        if (obj is JinjaArray a) return new JinjaArray(SliceList(a.Items, start, stop, step ?? 1));
        return new JinjaString(string.Concat(SliceList(JsText.CodePoints(((JinjaString)obj).Value), start, stop, step ?? 1)));
    }

    /// <summary>Python slice semantics (negative indices count from the end, a negative step walks backwards).</summary>
    internal static List<T> SliceList<T>(List<T> list, long? start, long? stop, long step)
    {
        if (step == 0) throw new JinjaRuntimeException("slice step cannot be zero");
        long n = list.Count;
        long s, e;
        if (step > 0)
        {
            s = start is null ? 0 : start < 0 ? Math.Max(n + start.Value, 0) : Math.Min(start.Value, n);
            e = stop is null ? n : stop < 0 ? Math.Max(n + stop.Value, 0) : Math.Min(stop.Value, n);
        }
        else
        {
            s = start is null ? n - 1 : start < 0 ? Math.Max(n + start.Value, -1) : Math.Min(start.Value, n - 1);
            e = stop is null ? -1 : stop < -1 ? Math.Max(n + stop.Value, -1) : Math.Min(stop.Value, n - 1);
        }
        var result = new List<T>();
        for (long i = s; step > 0 ? i < e : i > e; i += step) result.Add(list[(int)i]);
        return result;
    }

    private JinjaValue EvaluateUnary(UnaryNode u, JinjaScope scope)
    {
        var arg = Evaluate(u.Argument, scope);
        switch (u.Operator)
        {
            case "not": return JinjaValue.Bool(!arg.IsTruthy);
            case "+" or "-":
                int sign = u.Operator == "-" ? -1 : 1;
                return arg switch
                {
                    JinjaInt i => new JinjaInt(sign * i.Value),
                    JinjaFloat f => new JinjaFloat(sign * f.Value),
                    JinjaBool b => new JinjaInt(sign * (b.Value ? 1 : 0)),
                    _ => throw Fail(u, $"unknown operator \"{u.Operator}\" for {arg.TypeName}"),
                };
            default: throw Fail(u, $"unknown operator {u.Operator}");
        }
    }

    private JinjaValue EvaluateBinary(BinaryNode b, JinjaScope scope)
    {
        var left = Evaluate(b.Left, scope);
        if (b.Operator == "and") return left.IsTruthy ? Evaluate(b.Right, scope) : left;
        if (b.Operator == "or") return left.IsTruthy ? left : Evaluate(b.Right, scope);
        var right = Evaluate(b.Right, scope);
        string op = b.Operator;
        if (op == "==") return JinjaValue.Bool(JinjaCompare.LooseEquals(left, right));
        if (op == "!=") return JinjaValue.Bool(!JinjaCompare.LooseEquals(left, right));
        if (left is JinjaUndefined || right is JinjaUndefined)
        {
            if (right is JinjaUndefined && op is "in" or "not in") return JinjaValue.Bool(op == "not in");
            throw Fail(b, $"cannot perform operation {op} on undefined values");
        }
        if (left is JinjaNone || right is JinjaNone) throw Fail(b, $"cannot perform operation {op} on null values");
        if (op == "~") return new JinjaString(left.JsString() + right.JsString());
        if (op == "**" && IsNumericLike(left) && IsNumericLike(right))
        {
            double x = NumericValue(left), y = NumericValue(right);
            if (x == 0 && y < 0) throw Fail(b, "0.0 cannot be raised to a negative power");
            double r = Math.Pow(x, y);
            if (!double.IsFinite(r)) throw Fail(b, "exponentiation result is not a finite real number");
            return left is JinjaFloat || right is JinjaFloat || y < 0 ? new JinjaFloat(r) : new JinjaInt((long)r);
        }
        if (left is JinjaInt or JinjaFloat && right is JinjaInt or JinjaFloat)
        {
            bool isFloat = left is JinjaFloat || right is JinjaFloat;
            if (!isFloat)
            {
                long x = ((JinjaInt)left).Value, y = ((JinjaInt)right).Value;
                switch (op)
                {
                    case "+": return new JinjaInt(x + y);
                    case "-": return new JinjaInt(x - y);
                    case "*": return new JinjaInt(x * y);
                    case "/": return new JinjaFloat((double)x / y);
                    case "//": return y == 0 ? throw Fail(b, "integer division by zero") : new JinjaInt((long)Math.Floor((double)x / y));
                    case "%": return y == 0 ? throw Fail(b, "integer modulo by zero") : new JinjaInt(x % y);
                    case "<": return JinjaValue.Bool(x < y);
                    case ">": return JinjaValue.Bool(x > y);
                    case ">=": return JinjaValue.Bool(x >= y);
                    case "<=": return JinjaValue.Bool(x <= y);
                }
            }
            else
            {
                double x = NumericValue(left), y = NumericValue(right);
                switch (op)
                {
                    case "+": return new JinjaFloat(x + y);
                    case "-": return new JinjaFloat(x - y);
                    case "*": return new JinjaFloat(x * y);
                    case "/": return new JinjaFloat(x / y);
                    case "//": return new JinjaFloat(Math.Floor(x / y));
                    case "%": return new JinjaFloat(x % y);
                    case "<": return JinjaValue.Bool(x < y);
                    case ">": return JinjaValue.Bool(x > y);
                    case ">=": return JinjaValue.Bool(x >= y);
                    case "<=": return JinjaValue.Bool(x <= y);
                }
            }
        }
        else if (left is JinjaArray la && right is JinjaArray ra)
        {
            if (op == "+") return new JinjaArray([.. la.Items, .. ra.Items]);
        }
        else if (right is JinjaArray arr)
        {
            bool member = arr.Items.Any(x => JinjaCompare.StrictEquals(x, left));
            if (op == "in") return JinjaValue.Bool(member);
            if (op == "not in") return JinjaValue.Bool(!member);
        }
        if ((left is JinjaString || right is JinjaString) && op == "+") return new JinjaString(left.JsString() + right.JsString());
        if (left is JinjaString ls && right is JinjaString rs)
        {
            if (op == "in") return JinjaValue.Bool(rs.Value.Contains(ls.Value, StringComparison.Ordinal));
            if (op == "not in") return JinjaValue.Bool(!rs.Value.Contains(ls.Value, StringComparison.Ordinal));
        }
        if (left is JinjaString key && right is JinjaObject ro && JinjaFilters.IsMapping(ro))
        {
            if (op == "in") return JinjaValue.Bool(ro.ContainsKey(key.Value));
            if (op == "not in") return JinjaValue.Bool(!ro.ContainsKey(key.Value));
        }
        throw Fail(b, $"unknown operator \"{op}\" between {left.TypeName} and {right.TypeName}");
    }

    internal static bool IsNumericLike(JinjaValue v) => v is JinjaInt or JinjaFloat or JinjaBool;

    internal static double NumericValue(JinjaValue v) => v switch
    {
        JinjaInt i => i.Value,
        JinjaFloat f => f.Value,
        JinjaBool b => b.Value ? 1 : 0,
        _ => double.NaN,
    };

    // ---- globals ----------------------------------------------------------------------------------------------

    private static JinjaValue Range(IReadOnlyList<JinjaValue> args)
    {
        long[] n = args.Where(a => a is not JinjaKeywordArgs).Select(a => a is JinjaInt i ? i.Value
            : throw new JinjaRuntimeException("range() takes integers")).ToArray();
        var (start, stop, step) = n.Length switch
        {
            1 => (0L, n[0], 1L),
            2 => (n[0], n[1], 1L),
            3 => (n[0], n[1], n[2]),
            _ => throw new JinjaRuntimeException("range() takes 1 to 3 arguments"),
        };
        if (step == 0) throw new JinjaRuntimeException("range() step must not be zero");
        var items = new List<JinjaValue>();
        for (long i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            if (items.Count >= MaxRangeLength) throw new JinjaRuntimeException($"range() longer than {MaxRangeLength} items");
            items.Add(new JinjaInt(i));
        }
        return new JinjaArray(items);
    }

    private static JinjaValue Namespace(IReadOnlyList<JinjaValue> args)
    {
        var positional = args.ToList();
        JinjaKeywordArgs? kwargs = null;
        if (positional.Count > 0 && positional[^1] is JinjaKeywordArgs k) { kwargs = k; positional.RemoveAt(positional.Count - 1); }
        if (positional.Count > 1) throw new JinjaRuntimeException($"namespace expected at most 1 argument, got {positional.Count}");
        var ns = new JinjaNamespace();
        if (positional.Count == 1)
        {
            switch (positional[0])
            {
                case JinjaObject o when JinjaFilters.IsMapping(o):
                    foreach (var e in o.Entries) ns.Set(e.Key, e.Value);
                    break;
                case JinjaArray a:
                    foreach (var pair in a.Items)
                    {
                        if (pair is not JinjaArray { Items.Count: 2 } p || p.Items[0] is not JinjaString key)
                            throw new JinjaRuntimeException("namespace expected an object or an iterable of [key, value] pairs");
                        ns.Set(key.Value, p.Items[1]);
                    }
                    break;
                default:
                    throw new JinjaRuntimeException($"'{positional[0].TypeName}' object is not iterable");
            }
        }
        if (kwargs is not null) foreach (var e in kwargs.Entries) ns.Set(e.Key, e.Value);
        return ns;
    }

    /// <summary>The strftime subset the reference implements (%Y %m %d %b %B %H %M %%), English month names.</summary>
    internal static string Strftime(DateTime date, string format)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length) { sb.Append(format[i]); continue; }
            char c = format[i + 1];
            string? part = c switch
            {
                'Y' => date.Year.ToString(CultureInfo.InvariantCulture),
                'm' => date.Month.ToString("00", CultureInfo.InvariantCulture),
                'd' => date.Day.ToString("00", CultureInfo.InvariantCulture),
                'b' => CultureInfo.InvariantCulture.DateTimeFormat.GetAbbreviatedMonthName(date.Month),
                'B' => CultureInfo.InvariantCulture.DateTimeFormat.GetMonthName(date.Month),
                'H' => date.Hour.ToString("00", CultureInfo.InvariantCulture),
                'M' => date.Minute.ToString("00", CultureInfo.InvariantCulture),
                '%' => "%",
                _ => null,
            };
            if (part is null) { sb.Append('%'); continue; }
            sb.Append(part);
            i++;
        }
        return sb.ToString();
    }
}
