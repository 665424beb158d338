using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Platform.Multimodal.Imaging;
using Platform.Multimodal.World;

namespace Platform.Train.Judge;

/// <summary>
/// Evaluates a judge through the served path (the gateway's /v1/judge API at its defaults) on the world's untouched
/// test split (<see cref="WorldSplit.Test"/>: every request or query picture is a colour/shape pair no training stream
/// holds), per medium (text descriptions, pictures answering a drawing request, captions of a picture). Pictures go
/// as PNG data URLs, as a client sends them. Pairwise: every pair judged in both orders, counted as Auto-J's
/// codes/leaderboard/pairwise_eval.py counts (agreement: both orders match the label, ties included; consistency: the
/// verdict after the swap, mapped back, equals the first), for modes ordered and set. Ratings: Spearman correlation
/// of the rating with the number of attributes right.
/// </summary>
public sealed class JudgeEvaluator(Uri gateway, string model, int pairs, int ratings, IReadOnlyList<JudgeMedium> media, int concurrency, Action<string> log)
{
    public const int Seed = 20261201;

    public async Task<int> RunAsync(CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = gateway, Timeout = TimeSpan.FromMinutes(10) };
        // Pairs (each with its two orders, one after the other) and ratings run `concurrency` at a time.
        using var gate = new SemaphoreSlim(concurrency);
        async Task<T> Limited<T>(Func<Task<T>> call)
        {
            await gate.WaitAsync(ct);
            try { return await call(); }
            finally { gate.Release(); }
        }
        foreach (var medium in media)
        {
            var world = new JudgeWorld(Seed + (int)medium, WorldSplit.Test);
            var pairData = Enumerable.Range(0, pairs).Select(_ => world.PairCase(medium)).ToList();
            foreach (var mode in new[] { "ordered", "set" })
            {
                int agree = 0, consistent = 0, tiesPredicted = 0, none = 0, bitwise = 0;
                var judged = await Task.WhenAll(pairData.Select(c => Limited(async () =>
                    (First: await CompareAsync(http, c, swap: false, mode, ct), Second: await CompareAsync(http, c, swap: true, mode, ct)))));
                foreach (var (c, (first, second)) in pairData.Zip(judged))
                {
                    int? p = first.Winner, q = second.Winner is 0 ? 1 : second.Winner is 1 ? 0 : second.Winner;   // exchange_to_ori_label
                    if (p == c.Label && q == c.Label) agree++;
                    if (p == q) consistent++;
                    if (p == -1) tiesPredicted++;
                    if (p is null) none++;
                    if (first.Raw == second.Raw) bitwise++;
                }
                log($"{medium.ToString().ToLowerInvariant()} {mode}: agreement {100.0 * agree / pairs:F2}% consistency {100.0 * consistent / pairs:F2}% (pairs {pairs}, labels tie {100.0 * pairData.Count(x => x.Label == -1) / pairs:F1}%, predicted tie {100.0 * tiesPredicted / pairs:F1}%, no verdict {none}, raw text identical after swap {bitwise}/{pairs})");
            }
            var rated = new List<(double Rating, double Right)>();
            int nulls = 0;
            var singles = Enumerable.Range(0, ratings).Select(_ => world.SingleCase(medium)).ToList();
            var ratingResults = await Task.WhenAll(singles.Select(c => Limited(() => RateAsync(http, model, c.Query, c.QueryPicture?.Rgb, Content(c.Responses[0]), ct))));
            foreach (var (c, rating) in singles.Zip(ratingResults))
            {
                if (rating.Rating is { } r) rated.Add((r, c.Responses[0].Says.Right(c.Truth)));
                else nulls++;
            }
            log($"{medium.ToString().ToLowerInvariant()} ratings: Spearman {Spearman(rated):F3} with attributes right (n {rated.Count}, no rating {nulls})");
        }
        return 0;
    }

    /// <summary>A message content: plain text, or parts with a PNG data URL where the text has the image placeholder.</summary>
    public static object Content(string text, byte[]? rgb)
    {
        if (rgb is null) return text;
        var parts = new List<object>();
        var pieces = text.Split(Platform.Contracts.Chat.PromptMarkers.Image);
        for (int i = 0; i < pieces.Length; i++)
        {
            if (pieces[i].Trim().Length > 0) parts.Add(new { type = "text", text = pieces[i].Trim() });
            if (i < pieces.Length - 1) parts.Add(new { type = "image_url", image_url = new { url = DataUrl(rgb) } });
        }
        return parts;
    }

    public static object Content(JudgedResponse r) => Content(r.Text, r.Picture?.Rgb);

    public static string DataUrl(byte[] rgb) =>
        "data:image/png;base64," + Convert.ToBase64String(ImageCodec.EncodePng(rgb, WorldSpec.ImageSize, WorldSpec.ImageSize));

    public static async Task<(int? Rating, string Critique)> RateAsync(HttpClient http, string model, string query, byte[]? queryRgb, object response, CancellationToken ct)
    {
        using var res = await http.PostAsJsonAsync("/v1/judge/ratings",
            new { model, messages = new[] { new { role = "user", content = Content(query, queryRgb) } }, response }, ct);
        var body = JsonNode.Parse(await res.Content.ReadAsStringAsync(ct))!;
        if (!res.IsSuccessStatusCode) throw new InvalidOperationException($"ratings: HTTP {(int)res.StatusCode} {body.ToJsonString()}");
        return (body["rating"]?.GetValue<int>(), body["critique"]?.GetValue<string>() ?? "");
    }

    private async Task<(int? Winner, string Raw)> CompareAsync(HttpClient http, JudgeCase c, bool swap, string mode, CancellationToken ct)
    {
        var (a, b) = swap ? (c.Responses[1], c.Responses[0]) : (c.Responses[0], c.Responses[1]);
        using var res = await http.PostAsJsonAsync("/v1/judge/comparisons",
            new { model, messages = new[] { new { role = "user", content = Content(c.Query, c.QueryPicture?.Rgb) } }, responses = new[] { Content(a), Content(b) }, mode }, ct);
        var body = JsonNode.Parse(await res.Content.ReadAsStringAsync(ct))!;
        if (!res.IsSuccessStatusCode) throw new InvalidOperationException($"comparisons: HTTP {(int)res.StatusCode} {body.ToJsonString()}");
        int? winner = body["winner"] switch
        {
            null => null,
            var w when w.GetValueKind() == System.Text.Json.JsonValueKind.String => -1,
            var w => w.GetValue<int>(),
        };
        return (winner, body["raw"]!.GetValue<string>());
    }

    /// <summary>Spearman's rho: Pearson correlation of average ranks (ties share their mean rank).</summary>
    public static double Spearman(IReadOnlyList<(double X, double Y)> points)
    {
        if (points.Count < 2) return double.NaN;
        var rx = Ranks(points.Select(p => p.X).ToArray());
        var ry = Ranks(points.Select(p => p.Y).ToArray());
        double mx = rx.Average(), my = ry.Average(), sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < rx.Length; i++)
        {
            sxy += (rx[i] - mx) * (ry[i] - my);
            sxx += (rx[i] - mx) * (rx[i] - mx);
            syy += (ry[i] - my) * (ry[i] - my);
        }
        return sxx == 0 || syy == 0 ? double.NaN : sxy / Math.Sqrt(sxx * syy);
    }

    private static double[] Ranks(double[] v)
    {
        var order = Enumerable.Range(0, v.Length).OrderBy(i => v[i]).ToArray();
        var ranks = new double[v.Length];
        for (int i = 0; i < order.Length;)
        {
            int j = i;
            while (j + 1 < order.Length && v[order[j + 1]] == v[order[i]]) j++;
            for (int k = i; k <= j; k++) ranks[order[k]] = (i + j) / 2.0 + 1;
            i = j + 1;
        }
        return ranks;
    }
}
