using Platform.Contracts.Chat;
using Platform.Inference.Engine;

namespace Platform.Judging;

/// <summary>
/// Order-independent pairwise judging built on Set-Based Prompting. Auto-J's pairwise prompt names the responses
/// "Response 1" and "Response 2" by the order they were sent, so its verdict can depend on that order (position bias);
/// sorting them first would only hide it. Here both responses sit in ONE set (identical headers, same positions,
/// masked from each other), so the judge cannot tell which was sent first, and each response is then judged IN
/// CONTEXT by a second look at it after the set: "[Focus Response]: r" with the verdict Better / Worse / Tie for the
/// focus against the other. Both responses get their look (two generations); the pair's scores (Better +1, Tie 0,
/// Worse -1) decide the winner by their difference, a symmetric rule. Every prompt is a function of the SET of
/// responses and of the focused content, never of the client's order, and the engine lays sets out canonically, so
/// swapping the responses gives bitwise the same generations and so the same verdict and critiques.
/// </summary>
public static class SetProtocol
{
    /// <summary>The instruction around the data, in Auto-J's wording where the task is the same.</summary>
    public const string Template =
        "You are assessing two submitted responses on a given user's query and judging whether the focus response is better than the other response, worse, or they are tied. Here is the data:\n\n[BEGIN DATA]\n***\n[Query]: {prompt}\n***\n{responses}[Focus Response]: {focus}\n***\n[END DATA]\n\nHere are the instructions to assess the focus response against the other response:\n\n1. Pinpoint the key factors to distinguish these two responses.\n2. Conclude your comparison by providing a final decision on whether the focus response is better, worse, or tied with the other response. Begin your final decision statement with \"So, the final decision is Better / Worse / Tie\".";

    /// <summary>One member of the response set: the same header for every response.</summary>
    public static string Member(string response) => $"[Response]: {response}\n***\n";

    /// <summary>The prompt (with <see cref="SetMarkers"/>) that judges <paramref name="focus"/> against the other response.</summary>
    public static string Render(string query, IReadOnlyList<string> responses, string focus) =>
        AutoJPrompts.Llama2Wrap(AutoJPrompts.Format(Template,
            ("prompt", query), ("responses", SetMarkers.Wrap(responses.Select(Member))), ("focus", focus)));

    /// <summary>+1 better, 0 tie, -1 worse.</summary>
    public static int Score(FocusVerdict v) => v switch { FocusVerdict.Better => 1, FocusVerdict.Worse => -1, _ => 0 };

    /// <summary>
    /// The winner from each response's focus verdict (null = unreadable): 0, 1, a tie (-1), or null when neither look
    /// gave a verdict. Symmetric: swapping the arguments swaps 0 and 1.
    /// </summary>
    public static int? Winner(FocusVerdict? first, FocusVerdict? second)
    {
        if (first is null && second is null) return null;
        int d = (first is { } a ? Score(a) : 0) - (second is { } b ? Score(b) : 0);
        // With one look unreadable only the other speaks (its score alone); with both, their difference.
        if (first is null) d = -Score(second!.Value);
        if (second is null) d = Score(first!.Value);
        return d > 0 ? 0 : d < 0 ? 1 : -1;
    }
}
