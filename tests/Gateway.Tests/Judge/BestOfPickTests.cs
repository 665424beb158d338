namespace Gateway.Tests.Judge;

/// <summary>The best-of-n evaluation reads best-of-n for smaller n from the first n candidates with its own copy of the
/// gateway's choice rule (Platform.Train does not reference the gateway): the two must agree.</summary>
public class BestOfPickTests
{
    public static TheoryData<int?[]> Ratings() => new()
    {
        new int?[] { 3 }, new int?[] { null }, new int?[] { null, 2 }, new int?[] { 5, 5, 8, 8 }, new int?[] { 10, null, 10 },
        new int?[] { 1, 3, 5, 8, 10, 8, 5, 3 }, new int?[] { null, null }, new int?[] { 2, 1 },
    };

    [Theory]
    [MemberData(nameof(Ratings))]
    public void Pick_EvaluationCopy_AgreesWithTheGateway(int?[] ratings)
    {
        Assert.Equal(global::Gateway.Judge.BestOf.Pick(ratings), Platform.Train.Judge.BestOfEvaluator.Pick(ratings));
        // Highest rating, lowest index among equals.
        int best = global::Gateway.Judge.BestOf.Pick(ratings);
        Assert.All(ratings.Take(best), r => Assert.True((r ?? int.MinValue) < (ratings[best] ?? int.MinValue)));
        Assert.All(ratings.Skip(best), r => Assert.True((r ?? int.MinValue) <= (ratings[best] ?? int.MinValue)));
    }
}
