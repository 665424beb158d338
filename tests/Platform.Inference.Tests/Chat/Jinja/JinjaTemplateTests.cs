using System.Text.Json;
using Platform.Inference.Chat.Jinja;
using Xunit;

namespace Platform.Inference.Tests.Chat.Jinja;

/// <summary>Error reporting and limits of the interpreter (its output is compared with the reference in JinjaDifferentialTests).</summary>
public class JinjaTemplateTests
{
    private static string Render(string template, string json = "{}")
    {
        using var doc = JsonDocument.Parse(json);
        return JinjaTemplate.Parse(template).Render(doc.RootElement);
    }

    [Theory]
    [InlineData("{% for m in messages %}\n{{ m.content }}\n", 1, "not closed")]
    [InlineData("line one\n{% if x %}\nyes\n{% endfor %}", 4, "the '{% if %}' on line 2 expects")]
    [InlineData("a\nb\n{{ 'unterminated }}", 3, "not closed")]
    [InlineData("a\n\n\n{% frobnicate %}", 4, "unknown statement 'frobnicate'")]
    [InlineData("{{ x }}\n{{ x ! y }}", 2, "unexpected character '!'")]
    [InlineData("{{ x }}\n{{ [1, 2 }}", 2, "expected ',' or ']'")]
    [InlineData("{# never closed\n\n", 1, "comment is not closed")]
    [InlineData("{% set %}", 1, "unexpected")]
    [InlineData("ok\n{{ 'a' | }}", 2, "unexpected '}}'")]
    public void Parse_MalformedTemplate_ThrowsNamingLine(string template, int line, string fragment)
    {
        var e = Assert.Throws<JinjaSyntaxException>(() => JinjaTemplate.Parse(template));
        Assert.Equal(line, e.Line);
        Assert.Contains(fragment, e.Message);
        Assert.StartsWith($"line {line}: ", e.Message);
    }

    [Fact]
    public void Render_RaiseException_ThrowsWithMessageAndLine()
    {
        var e = Assert.Throws<JinjaRuntimeException>(() => Render("ok\n{{ raise_exception('System role not supported') }}"));
        Assert.Contains("System role not supported", e.Message);
        Assert.Equal(2, e.Line);
    }

    [Theory]
    [InlineData("{{ x | frobnicate }}", "unknown")]
    [InlineData("{{ 1 + none }}", "null")]
    [InlineData("{{ undefined_thing.method() }}", "not a function")]
    [InlineData("{% for x in 5 %}{% endfor %}", "iterable")]
    [InlineData("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}", "takes not more than 1")]
    [InlineData("{{ 1 // 0 }}", "division by zero")]
    public void Render_InvalidOperation_ThrowsRuntimeError(string template, string fragment)
    {
        var e = Assert.Throws<JinjaRuntimeException>(() => Render(template, """{"x": "text"}"""));
        Assert.Contains(fragment, e.Message);
    }

    [Fact]
    public void Parse_DeeplyNestedExpression_ThrowsInsteadOfOverflowingTheStack()
    {
        string template = "{{ " + new string('(', 200_000) + "1" + new string(')', 200_000) + " }}";
        Assert.Throws<JinjaSyntaxException>(() => JinjaTemplate.Parse(template));
    }

    [Fact]
    public void Render_UnboundedMacroRecursion_ThrowsRuntimeError()
    {
        var e = Assert.Throws<JinjaRuntimeException>(() => Render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"));
        Assert.Contains("nested", e.Message);
    }

    [Fact]
    public void Render_NamespaceCarriesStateOutOfLoop_SetDoesNot()
    {
        Assert.Equal("3|0", Render("{% set ns = namespace(n=0) %}{% set n = 0 %}{% for i in range(3) %}{% set ns.n = ns.n + 1 %}{% set n = n + 1 %}{% endfor %}{{ ns.n }}|{{ n }}"));
    }
}
