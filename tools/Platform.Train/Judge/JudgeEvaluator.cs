using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Platform.Multimodal.World;

namespace Platform.Train.Judge;

/// <summary>
/// Evaluates a judge through the served path (the gateway's /v1/judge API at its defaults) on the world's held-out split:
/// requests whose object is a colour/shape pair no training example named. Pairwise: every pair judged in both orders,
/// counted as Auto-J's codes/leaderboard/pairwise_eval.py counts (agreement: both orders match the label, ties
/// included; consistency: the verdict after the swap, mapped back, equals the first), for modes ordered and set.
/// Ratings: Spearman correlation of the rating with the number of attributes right.
/// </summary>
public sealed class JudgeEvaluator(Uri gateway, string model, int pairs, int ratings, Action<string> log)
{
    public async Task<int> RunAsync(CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = gateway, Timeout = TimeSpan.FromMinutes(10) };
        var world = new JudgeWorld(seed: 20261201, WorldSplit.HeldOut);
        var pairData = Enumerable.Range(0, pairs).Select(_ => world.EvalPair()).ToList();
        foreach (var mode in new[] { "ordered", "set" })
        {
            int agree = 0, consistent = 0, tiesPredicted = 0, none = 0, bitwise = 0;
            foreach (var (query, _, a, b, label) in pairData)
            {
                var first = await CompareAsync(http, query, a.Text, b.Text, mode, ct);
                var second = await CompareAsync(http, query, b.Text, a.Text, mode, ct);
                int? p = first.Winner, q = second.Winner is 0 ? 1 : second.Winner is 1 ? 0 : second.Winner;   // exchange_to_ori_label
                if (p == label && q == label) agree++;
                if (p == q) consistent++;
                if (p == -1) tiesPredicted++;
                if (p is null) none++;
                if (first.Raw == second.Raw) bitwise++;
            }
            log($"{mode}: agreement {100.0 * agree / pairs:F2}% consistency {100.0 * consistent / pairs:F2}% (pairs {pairs}, labels tie {100.0 * pairData.Count(x => x.Label == -1) / pairs:F1}%, predicted tie {100.0 * tiesPredicted / pairs:F1}%, no verdict {none}, raw text identical after swap {bitwise}/{pairs})");
        }
        var rated = new List<(double Rating, double Right)>();
        int nulls = 0;
        for (int i = 0; i < ratings; i++)
        {
            var (query, _, response, right) = world.EvalSingle();
            using var res = await http.PostAsJsonAsync("/v1/judge/ratings", new { model, messages = new[] { new { role = "user", content = query } }, response = response.Text }, ct);
            var body = JsonNode.Parse(await res.Content.ReadAsStringAsync(ct))!;
            if (!res.IsSuccessStatusCode) throw new InvalidOperationException($"ratings: HTTP {(int)res.StatusCode} {body.ToJsonString()}");
            if (body["rating"] is { } r) rated.Add((r.GetValue<int>(), right));
            else nulls++;
        }
        log($"ratings: Spearman {Spearman(rated):F3} with attributes right (n {rated.Count}, no rating {nulls})");
        return 0;
    }

    private async Task<(int? Winner, string Raw)> CompareAsync(HttpClient http, string query, string a, string b, string mode, CancellationToken ct)
    {
        using var res = await http.PostAsJsonAsync("/v1/judge/comparisons",
            new { model, messages = new[] { new { role = "user", content = query } }, responses = new[] { a, b }, mode }, ct);
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
