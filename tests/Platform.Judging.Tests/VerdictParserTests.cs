namespace Platform.Judging.Tests;

public class VerdictParserTests
{
    [Theory]
    [InlineData("The response is accurate. Rating: [[8]]", 8)]
    [InlineData("Rating: [[3]] at first, but on reflection... Rating: [[9]]", 9)]
    [InlineData("Rating: [[ 10 ]]", 10)]
    [InlineData("Rating: [[1]]", 1)]
    [InlineData("Rating: [[7.0]]", 7)]
    public void ParseRating_LastRatingWins(string text, int expected) => Assert.Equal(expected, VerdictParser.ParseRating(text));

    [Theory]
    [InlineData("A fine critique with no verdict.")]
    [InlineData("")]
    [InlineData("Rating: [[ten]]")]
    [InlineData("Rating: [[0]]")]
    [InlineData("Rating: [[11]]")]
    [InlineData("Rating: [[-3]]")]
    [InlineData("Rating: [[7.5]]")]
    [InlineData("Rating: [[5")]
    [InlineData("Rating: [[]]")]
    [InlineData("Rating: [[8]] then a malformed last one Rating: [[x]]")]
    public void ParseRating_NoneOrMalformed_IsNull(string text) => Assert.Null(VerdictParser.ParseRating(text));

    [Theory]
    [InlineData("Response 1 is wrong. So, the final decision is Response 2", PairwiseVerdict.Response2)]
    [InlineData("So, the final decision is Response 1. Wait. So, the final decision is Tie", PairwiseVerdict.Tie)]
    [InlineData("so, the final decision is response 1.", PairwiseVerdict.Response1)]
    [InlineData("So, the final decision is   Response 2 because ...\n", PairwiseVerdict.Response2)]
    public void ParseComparison_LastDecisionWins(string text, PairwiseVerdict expected) => Assert.Equal(expected, VerdictParser.ParseComparison(text));

    [Theory]
    [InlineData("Both are good.")]
    [InlineData("So, the final decision is Response 3")]
    [InlineData("So, the final decision is Response 1. So, the final decision is unclear")]
    [InlineData("final decision is")]
    public void ParseComparison_NoneOrUnreadable_IsNull(string text) => Assert.Null(VerdictParser.ParseComparison(text));

    [Theory]
    [InlineData("The focus response says blue; the shape is red. So, the final decision is Worse", FocusVerdict.Worse)]
    [InlineData("So, the final decision is Better", FocusVerdict.Better)]
    [InlineData("So, the final decision is Worse. So, the final decision is Tie", FocusVerdict.Tie)]
    public void ParseFocus_LastDecisionWins(string text, FocusVerdict expected) => Assert.Equal(expected, VerdictParser.ParseFocus(text));

    [Fact]
    public void ParseFocus_None_IsNull() => Assert.Null(VerdictParser.ParseFocus("So, the final decision is Response 1"));

    [Theory]
    [InlineData("Response 2 says blue; the shape is red. So, the final decision is Response 1", "Response 2 says blue; the shape is red.")]
    [InlineData("Correct on every attribute. Rating: [[10]]", "Correct on every attribute.")]
    [InlineData("No verdict here.", "No verdict here.")]
    public void Critique_IsTextBeforeTheVerdict(string text, string expected) => Assert.Equal(expected, VerdictParser.Critique(text));

    [Theory]
    [InlineData(FocusVerdict.Better, FocusVerdict.Worse, 0)]
    [InlineData(FocusVerdict.Worse, FocusVerdict.Better, 1)]
    [InlineData(FocusVerdict.Tie, FocusVerdict.Tie, -1)]
    [InlineData(FocusVerdict.Better, FocusVerdict.Better, -1)]
    [InlineData(FocusVerdict.Better, FocusVerdict.Tie, 0)]
    [InlineData(FocusVerdict.Tie, null, -1)]
    [InlineData(null, FocusVerdict.Better, 1)]
    [InlineData(null, FocusVerdict.Worse, 0)]
    [InlineData(null, null, null)]
    public void SetWinner_IsSymmetric(FocusVerdict? a, FocusVerdict? b, int? expected)
    {
        Assert.Equal(expected, SetProtocol.Winner(a, b));
        int? swapped = expected switch { 0 => 1, 1 => 0, var x => x };
        Assert.Equal(swapped, SetProtocol.Winner(b, a));
    }
}
