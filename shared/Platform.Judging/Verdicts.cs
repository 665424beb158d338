using System.Globalization;

namespace Platform.Judging;

/// <summary>Auto-J's pairwise decision ("So, the final decision is Response 1 / Response 2 / Tie").</summary>
public enum PairwiseVerdict { Response1, Response2, Tie }

/// <summary>The set-mode decision about the focus response against the other one (see <see cref="SetProtocol"/>).</summary>
public enum FocusVerdict { Better, Worse, Tie }

/// <summary>
/// Reads verdicts from a judge's text. As Auto-J's own extractors (codes/usage/example.py) do, only the LAST occurrence
/// of the verdict phrase counts; unlike them, text without a readable verdict gives null (never a 0 rating or a tie),
/// and a malformed last rating gives null rather than an earlier one.
/// </summary>
public static class VerdictParser
{
    public const string RatingPhrase = "Rating: [[";
    public const string DecisionPhrase = "final decision is ";

    /// <summary>The rating 1..10 of the last "Rating: [[N]]"; null when there is none or N is not an integer in 1..10.</summary>
    public static int? ParseRating(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int pos = text.LastIndexOf(RatingPhrase, StringComparison.Ordinal);
        if (pos < 0) return null;
        int start = pos + RatingPhrase.Length;
        int end = text.IndexOf("]]", start, StringComparison.Ordinal);
        if (end < 0) return null;
        var number = text.AsSpan(start, end - start).Trim();
        // Integers only ("7", "07", "7.0"); "7.5", "ten", "-3", "11" are not ratings on Auto-J's 1..10 scale.
        if (!decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value)) return null;
        if (value != decimal.Truncate(value) || value < 1 || value > 10) return null;
        return (int)value;
    }

    /// <summary>Auto-J's pairwise decision from the last "final decision is ..."; null when absent or unreadable.</summary>
    public static PairwiseVerdict? ParseComparison(string text) => LastDecision(text) switch
    {
        null => null,
        var r when r.StartsWith("response 1", StringComparison.Ordinal) => PairwiseVerdict.Response1,
        var r when r.StartsWith("response 2", StringComparison.Ordinal) => PairwiseVerdict.Response2,
        var r when r.StartsWith("tie", StringComparison.Ordinal) => PairwiseVerdict.Tie,
        _ => null,
    };

    /// <summary>The set-mode decision from the last "final decision is Better / Worse / Tie"; null when absent or unreadable.</summary>
    public static FocusVerdict? ParseFocus(string text) => LastDecision(text) switch
    {
        null => null,
        var r when r.StartsWith("better", StringComparison.Ordinal) => FocusVerdict.Better,
        var r when r.StartsWith("worse", StringComparison.Ordinal) => FocusVerdict.Worse,
        var r when r.StartsWith("tie", StringComparison.Ordinal) => FocusVerdict.Tie,
        _ => null,
    };

    /// <summary>The critique: the text before the last verdict phrase's sentence (the whole text when there is none), trimmed.</summary>
    public static string Critique(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int rating = text.LastIndexOf(RatingPhrase, StringComparison.Ordinal);
        int decision = text.LastIndexOf(DecisionPhrase, StringComparison.Ordinal);
        int cut = Math.Max(rating, decision);
        if (cut < 0) return text.Trim();
        // Back up to the start of the verdict sentence ("So, the final decision is", "Rating: [[").
        if (cut == decision)
        {
            int so = text.LastIndexOf("So, the", cut, StringComparison.OrdinalIgnoreCase);
            if (so >= 0 && cut - so <= "So, the ".Length) cut = so;
        }
        return text[..cut].Trim();
    }

    private static string? LastDecision(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.Trim();
        int pos = trimmed.LastIndexOf(DecisionPhrase, StringComparison.Ordinal);
        return pos < 0 ? null : trimmed[(pos + DecisionPhrase.Length)..].Trim().ToLowerInvariant();
    }
}
