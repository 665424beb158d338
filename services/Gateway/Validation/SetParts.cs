using Platform.Contracts.Chat;

namespace Gateway.Validation;

/// <summary>
/// The chat extension for set-based prompting: consecutive text parts that carry the same <c>set</c> name become one
/// set in the prompt (written with <see cref="SetMarkers"/>, which the worker lays out with shared positions and a mask),
/// so a question about options cannot depend on the order they were sent. Other parts join with a newline as before.
/// </summary>
public static class SetParts
{
    public static string Join(IReadOnlyList<string> texts, IReadOnlyList<string?> sets)
    {
        var pieces = new List<string>();
        for (int i = 0; i < texts.Count;)
        {
            if (sets[i] is not { } name) { pieces.Add(texts[i]); i++; continue; }
            int j = i;
            while (j < texts.Count && sets[j] == name) j++;
            pieces.Add(SetMarkers.Wrap(texts.Skip(i).Take(j - i)));
            i = j;
        }
        return string.Join("\n", pieces);
    }
}
