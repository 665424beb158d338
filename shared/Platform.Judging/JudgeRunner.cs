using Platform.Contracts.Chat;
using Platform.Inference.Engine;

namespace Platform.Judging;

/// <summary>Text (with "&lt;image&gt;" placeholders) and the visual tokens of its images, in order.</summary>
public sealed record JudgeContent(string Text, IReadOnlyList<VisualEmbedding>? Images = null)
{
    public IReadOnlyList<VisualEmbedding> ImageList => Images ?? [];
}

/// <summary>How a pair is judged: Auto-J's published protocol, or order-independent by construction (<see cref="SetProtocol"/>).</summary>
public enum ComparisonMode { Ordered, Set }

/// <summary>The winner as an index into the caller's responses, or a tie.</summary>
public enum ComparisonWinner { First, Second, Tie }

public sealed record RatingResult(int? Rating, string Critique, string Raw, int PromptTokens, int CompletionTokens);

public sealed record ComparisonResult(ComparisonWinner? Winner, string Critique, string Raw, int PromptTokens, int CompletionTokens);

/// <summary>
/// Runs Auto-J's protocols on a judge model's engine: renders the prompt, generates the judgement greedily (Auto-J's
/// own setting: temperature 0), and reads the verdict (<see cref="VerdictParser"/>).
/// </summary>
public sealed class JudgeRunner(ITextEngine engine, int maxTokens = 1024)
{
    public ITextEngine Engine => engine;

    public async Task<RatingResult> RateAsync(IReadOnlyList<(string Role, JudgeContent Content)> messages, JudgeContent response, CancellationToken ct)
    {
        var (query, images) = Query(messages);
        CheckNoMarkers(response);
        var prompt = AutoJPrompts.RenderSingle(query, response.Text);
        var raw = await GenerateAsync(prompt, [.. images, .. response.ImageList], ct);
        return new RatingResult(VerdictParser.ParseRating(raw.Text), VerdictParser.Critique(raw.Text), raw.Text, raw.PromptTokens, raw.CompletionTokens);
    }

    public async Task<ComparisonResult> CompareAsync(IReadOnlyList<(string Role, JudgeContent Content)> messages, JudgeContent first, JudgeContent second,
        ComparisonMode mode, CancellationToken ct)
    {
        var (query, images) = Query(messages);
        CheckNoMarkers(first);
        CheckNoMarkers(second);
        if (mode == ComparisonMode.Ordered)
        {
            var raw = await GenerateAsync(AutoJPrompts.RenderPairwise(query, first.Text, second.Text), [.. images, .. first.ImageList, .. second.ImageList], ct);
            ComparisonWinner? winner = VerdictParser.ParseComparison(raw.Text) switch
            {
                PairwiseVerdict.Response1 => ComparisonWinner.First,
                PairwiseVerdict.Response2 => ComparisonWinner.Second,
                PairwiseVerdict.Tie => ComparisonWinner.Tie,
                _ => null,
            };
            return new ComparisonResult(winner, VerdictParser.Critique(raw.Text), raw.Text, raw.PromptTokens, raw.CompletionTokens);
        }

        // Set mode: one look per response, each prompt a function of the set and of the focused content only.
        string[] members = [first.Text, second.Text];
        VisualEmbedding[] setImages = [.. first.ImageList, .. second.ImageList];
        // The looks run one after the other in the canonical order of their focused responses (not the client's), so
        // the engine sees the same sequence of requests after a swap.
        var order = CompareContent(first, second) <= 0 ? new[] { 0, 1 } : [1, 0];
        JudgeContent[] pair = [first, second];
        var looks = new Generated[2];
        foreach (var i in order)
            looks[i] = await GenerateAsync(SetProtocol.Render(query, members, pair[i].Text), [.. images, .. setImages, .. pair[i].ImageList], ct);
        var verdicts = looks.Select(l => VerdictParser.ParseFocus(l.Text)).ToArray();
        var w = SetProtocol.Winner(verdicts[0], verdicts[1]);
        ComparisonWinner? result = w switch { 0 => ComparisonWinner.First, 1 => ComparisonWinner.Second, -1 => ComparisonWinner.Tie, _ => null };
        // Critiques and raw texts in that canonical order too.
        var critique = string.Join("\n\n", order.Select(i => VerdictParser.Critique(looks[i].Text)));
        var rawText = string.Join("\n\n", order.Select(i => looks[i].Text));
        return new ComparisonResult(result, critique, rawText, looks.Sum(l => l.PromptTokens), looks.Sum(l => l.CompletionTokens));
    }

    /// <summary>A total order on contents that depends only on the content (text, then image bits).</summary>
    public static int CompareContent(JudgeContent a, JudgeContent b)
    {
        int c = string.CompareOrdinal(a.Text, b.Text);
        if (c != 0) return c;
        var (ia, ib) = (a.ImageList, b.ImageList);
        if (ia.Count != ib.Count) return ia.Count.CompareTo(ib.Count);
        for (int i = 0; i < ia.Count; i++)
        {
            var (da, db) = (ia[i].Data, ib[i].Data);
            if (da.Length != db.Length) return da.Length.CompareTo(db.Length);
            for (int k = 0; k < da.Length; k++)
            {
                c = BitConverter.SingleToInt32Bits(da[k]).CompareTo(BitConverter.SingleToInt32Bits(db[k]));
                if (c != 0) return c;
            }
        }
        return 0;
    }

    private static (string Query, List<VisualEmbedding> Images) Query(IReadOnlyList<(string Role, JudgeContent Content)> messages)
    {
        foreach (var (_, c) in messages) CheckNoMarkers(c);
        var query = JudgeQuery.Render(messages.Select(m => (m.Role, m.Content.Text)).ToList());
        return (query, messages.SelectMany(m => m.Content.ImageList).ToList());
    }

    private static void CheckNoMarkers(JudgeContent c)
    {
        if (SetMarkers.ContainsAny(c.Text))
            throw new ArgumentException($"judged text must not contain the set markers {SetMarkers.Start}, {SetMarkers.Split}, {SetMarkers.End}");
    }

    private sealed record Generated(string Text, int PromptTokens, int CompletionTokens);

    private async Task<Generated> GenerateAsync(string prompt, IReadOnlyList<VisualEmbedding> images, CancellationToken ct)
    {
        // The marker path also carries images for a plain prompt; without markers it tokenizes as BOS + Encode(prompt).
        var request = new GenerationRequest
        {
            Prompt = prompt, UseSetMarkers = true, PromptImages = images, Sampling = SamplingOptions.Greedy, MaxNewTokens = 1,
        };
        int promptTokens = engine.CountPromptTokens(request);
        int room = engine.MaxContextTokens - promptTokens - 1;
        if (room < 1) throw new ContextLengthExceededException($"the judge prompt has {promptTokens} tokens; judge '{engine.ModelName}' accepts at most {engine.MaxContextTokens - 2}");
        var text = new System.Text.StringBuilder();
        int completion = 0;
        await foreach (var u in engine.GenerateAsync(request with { MaxNewTokens = Math.Min(maxTokens, room) }, ct))
        {
            text.Append(u.TextDelta);
            completion = u.CompletionTokens;
        }
        return new Generated(text.ToString(), promptTokens, completion);
    }
}
