namespace Platform.Contracts.Judge;

/// <summary>The comparison modes of <see cref="CompareResponses"/>.</summary>
public static class JudgeModes
{
    public const string Ordered = "ordered";
    public const string Set = "set";
    public static readonly IReadOnlyList<string> All = [Ordered, Set];
}
