namespace Platform.Judging;

/// <summary>
/// The prompts of the published Auto-J checkpoint (GAIR-NLP/auto-j, codes/usage/constants_prompt.py: <c>single</c>,
/// <c>pairwise_tie</c> and <c>llama2_wrapper</c> without a system message), character for character, so that Auto-J's
/// own HF folder (GAIR/autoj-13b) served by the engine receives exactly the text it was trained on. The engine adds
/// BOS (tokenizer add_bos_token) as vLLM does in Auto-J's example.
/// </summary>
public static class AutoJPrompts
{
    /// <summary>Auto-J's <c>single</c> protocol (note the two spaces on the line after the first).</summary>
    public const string Single =
        "Write critiques for a submitted response on a given user's query, and grade the response:\n  \n[BEGIN DATA]\n***\n[Query]: {prompt}\n***\n[Response]: {response}\n***\n[END DATA]\n\nWrite critiques for this response. After that, you should give a final rating for the response on a scale of 1 to 10 by strictly following this format: \"[[rating]]\", for example: \"Rating: [[5]]\".";

    /// <summary>Auto-J's <c>pairwise_tie</c> protocol.</summary>
    public const string PairwiseTie =
        "You are assessing two submitted responses on a given user's query and judging which response is better or they are tied. Here is the data:\n\n[BEGIN DATA]\n***\n[Query]: {prompt}\n***\n[Response 1]: {response}\n***\n[Response 2]: {response_another}\n***\n[END DATA]\n\nHere are the instructions to assess and compare the two responses:\n\n1. Pinpoint the key factors to distinguish these two responses.\n2. Conclude your comparison by providing a final decision on which response is better, or they are tied. Begin your final decision statement with \"So, the final decision is Response 1 / Response 2 / Tie\". Ensure that your decision aligns coherently with the comprehensive evaluation and comparison you've provided.";

    /// <summary>Auto-J's <c>PROMPT_INPUT_WO_SYSTEM</c> (Llama-2 chat wrapping).</summary>
    public static string Llama2Wrap(string userMessage) => $"[INST] {userMessage} [/INST]";

    /// <summary><c>build_autoj_input(prompt, resp1, protocol="single")</c>.</summary>
    public static string RenderSingle(string query, string response) =>
        Llama2Wrap(Format(Single, ("prompt", query), ("response", response)));

    /// <summary><c>build_autoj_input(prompt, resp1, resp2, protocol="pairwise_tie")</c>.</summary>
    public static string RenderPairwise(string query, string response1, string response2) =>
        Llama2Wrap(Format(PairwiseTie, ("prompt", query), ("response", response1), ("response_another", response2)));

    /// <summary>
    /// Python's <c>str.format</c> for these templates: one pass over the template, so a query or response that itself
    /// contains "{response}" is inserted as written, never expanded.
    /// </summary>
    public static string Format(string template, params (string Name, string Value)[] values)
    {
        var sb = new System.Text.StringBuilder(template.Length + values.Sum(v => v.Value.Length));
        int at = 0;
        while (at < template.Length)
        {
            int open = template.IndexOf('{', at);
            if (open < 0) { sb.Append(template, at, template.Length - at); break; }
            int close = template.IndexOf('}', open);
            var name = close < 0 ? null : template[(open + 1)..close];
            var match = values.FirstOrDefault(v => v.Name == name);
            if (match.Name is null) { sb.Append(template, at, open + 1 - at); at = open + 1; continue; }
            sb.Append(template, at, open - at).Append(match.Value);
            at = close + 1;
        }
        return sb.ToString();
    }
}
