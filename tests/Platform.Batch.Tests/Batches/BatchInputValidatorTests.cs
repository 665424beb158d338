using System.Text;
using Platform.Batch.Batches;

namespace Platform.Batch.Tests.Batches;

public sealed class BatchInputValidatorTests
{
    private static (IReadOnlyList<Platform.Batch.Storage.BatchItem> Items, IReadOnlyList<BatchValidationError> Errors) Validate(
        string text, int maxRequests = 100) =>
        new BatchInputValidator(new EchoChatHandler(), maxRequests).Validate("batch_x", Encoding.UTF8.GetBytes(text));

    [Fact]
    public void Validate_ByteOrderMarkAndBlankLines_KeepsLineNumbersOfTheFile()
    {
        var (items, errors) = Validate("\uFEFF" + BatchTestHost.Line("a", "x") + "\n\n" + BatchTestHost.Line("b", "y"));
        Assert.Empty(errors);
        Assert.Equal([(1L, "a"), (3L, "b")], items.Select(i => (i.LineNumber, i.CustomId)));
        Assert.Contains("\"messages\"", items[1].Body);
    }

    [Fact]
    public void Validate_TwoJsonValuesOnOneLine_IsInvalidJsonLine()
    {
        var (_, errors) = Validate(BatchTestHost.Line("a", "x") + " {}");
        Assert.Equal("invalid_json_line", Assert.Single(errors).Code);
    }

    [Theory]
    [InlineData("""{"custom_id":7,"method":"POST","url":"/v1/chat/completions","body":{}}""", "invalid_custom_id", "custom_id")]
    [InlineData("""{"custom_id":"a","method":"GET","url":"/v1/chat/completions","body":{}}""", "invalid_method", "method")]
    [InlineData("""{"custom_id":"a","method":"POST","body":{}}""", "missing_required_parameter", "url")]
    [InlineData("""{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":"text"}""", "missing_required_parameter", "body")]
    [InlineData("""{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"messages":[{"role":"user","content":"x"}]}}""", "invalid_request", "body.model")]
    public void Validate_BadLine_ReportsCodeAndParam(string line, string code, string param)
    {
        var error = Assert.Single(Validate(line).Errors);
        Assert.Equal((code, param, 1L), (error.Code, error.Param, error.Line));
    }

    [Fact]
    public void Validate_MoreRequestsThanAllowed_FailsWithTooManyRequests()
    {
        var (_, errors) = Validate(string.Join("\n", Enumerable.Range(0, 4).Select(i => BatchTestHost.Line($"r{i}", "x"))), maxRequests: 3);
        var error = Assert.Single(errors);
        Assert.Equal(("too_many_requests", 4L), (error.Code, error.Line));
    }

    [Fact]
    public void Validate_ThousandsOfBadLines_ListsTheFirstHundredAndTheCount()
    {
        var (_, errors) = Validate(string.Join("\n", Enumerable.Repeat("not json", 250)));
        Assert.Equal(BatchInputValidator.MaxReportedErrors + 1, errors.Count);
        Assert.Equal("too_many_errors", errors[^1].Code);
        Assert.Contains("250", errors[^1].Message);
        Assert.Equal(100, errors[^2].Line);
    }
}
