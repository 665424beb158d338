using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Platform.Multimodal.Imaging;
using Platform.Multimodal.World;

namespace Platform.Train.Judge;

/// <summary>
/// Best-of-n accuracy through the served path at temperature 1, on the untouched test split (each request or picture
/// holds a test colour/shape pair). Drawings: POST /v1/images/generations with best_of = N and the judge; captions:
/// POST /v1/chat/completions with a test picture, "describe the image.", best_of = N and the judge. Each response
/// lists all N sampled candidates with the judge's rating; best-of-n for n = 1, 2, 4, ... N is read from the first n
/// candidates with the gateway's own rule (<see cref="Pick"/>: highest rating, lowest index among equals), which is
/// what best_of = n returns for those samples since each candidate is rated alone. A drawing is right when the pixel
/// checker reads exactly the requested object, a caption when it names the picture's four attributes. The oracle
/// picks a right candidate among the first n whenever there is one (the pixel checker as the judge).
/// </summary>
public sealed class BestOfEvaluator(Uri gateway, string model, string judge, int requests, int candidates, int concurrency, Action<string> log)
{
    public const int Seed = 20261202;

    public async Task<int> RunAsync(CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = gateway, Timeout = TimeSpan.FromMinutes(20) };
        var scenes = new SceneGenerator(Seed);
        var drawings = Enumerable.Range(0, requests).Select(_ => scenes.NextScene(WorldSplit.Test, jitter: false, objectCount: 1).Objects[0]).ToList();
        var pictures = Enumerable.Range(0, requests).Select(_ => scenes.NextScene(WorldSplit.Test, jitter: true, objectCount: 1)).ToList();
        using var gate = new SemaphoreSlim(concurrency);

        var drawn = await Task.WhenAll(drawings.Select(async o =>
        {
            await gate.WaitAsync(ct);
            try { return await DrawAsync(http, o, ct); }
            finally { gate.Release(); }
        }));
        Report("drawings", drawn);
        var captioned = await Task.WhenAll(pictures.Select(async s =>
        {
            await gate.WaitAsync(ct);
            try { return await CaptionAsync(http, s, ct); }
            finally { gate.Release(); }
        }));
        Report("captions", captioned);
        return 0;
    }

    private void Report(string what, IReadOnlyList<List<(int? Rating, bool Right)>> results)
    {
        for (int n = 1; n <= candidates; n *= 2)
        {
            int judged = 0, oracle = 0;
            foreach (var r in results)
            {
                var first = r.Take(n).ToList();
                if (first[Pick(first.Select(c => c.Rating).ToList())].Right) judged++;
                if (first.Any(c => c.Right)) oracle++;
            }
            double single = 100.0 * results.Count(r => r[0].Right) / results.Count;
            log($"{what} best-of-{n}: judge {100.0 * judged / results.Count:F1}% right (error {100 - 100.0 * judged / results.Count:F1}%), " +
                $"n = 1 {single:F1}%, oracle {100.0 * oracle / results.Count:F1}% (requests {results.Count}, temperature 1)");
        }
    }

    /// <summary>The gateway's choice (services/Gateway/Judge/BestOf.cs Pick): highest rating, lowest index among equals,
    /// no rating below every rating. Platform.Train does not reference the gateway; Gateway.Tests checks the two agree.</summary>
    public static int Pick(IReadOnlyList<int?> ratings)
    {
        int best = 0;
        for (int i = 1; i < ratings.Count; i++)
            if ((ratings[i] ?? int.MinValue) > (ratings[best] ?? int.MinValue)) best = i;
        return best;
    }

    private async Task<List<(int? Rating, bool Right)>> DrawAsync(HttpClient http, SceneObject o, CancellationToken ct)
    {
        using var res = await http.PostAsJsonAsync("/v1/images/generations", new
        {
            model, prompt = o.Describe(), best_of = candidates, judge, temperature = 1.0, response_format = "b64_json",
        }, ct);
        var body = JsonNode.Parse(await res.Content.ReadAsStringAsync(ct))!;
        if (!res.IsSuccessStatusCode) throw new InvalidOperationException($"images: HTTP {(int)res.StatusCode} {body.ToJsonString()}");
        return body["best_of_candidates"]!.AsArray().Select(c =>
        {
            // A sampled answer without a picture is an unrated candidate and a wrong drawing.
            if (c!["b64_json"] is null) return ((int?)null, false);
            var rgb = ImageCodec.DecodeToSquare(Convert.FromBase64String(c!["b64_json"]!.GetValue<string>()), WorldSpec.ImageSize);
            var read = SceneChecker.Check(rgb);
            return (c["rating"]?.GetValue<int>(), read.Count == 1 && read[0] == o);
        }).ToList();
    }

    private async Task<List<(int? Rating, bool Right)>> CaptionAsync(HttpClient http, Scene scene, CancellationToken ct)
    {
        var url = JudgeEvaluator.DataUrl(SceneRenderer.Render(scene));
        using var res = await http.PostAsJsonAsync("/v1/chat/completions", new
        {
            model, temperature = 1.0, best_of = candidates, judge, max_tokens = 40,
            messages = new[] { new { role = "user", content = new object[] { new { type = "image_url", image_url = new { url } }, new { type = "text", text = "describe the image." } } } },
        }, ct);
        var body = JsonNode.Parse(await res.Content.ReadAsStringAsync(ct))!;
        if (!res.IsSuccessStatusCode) throw new InvalidOperationException($"chat: HTTP {(int)res.StatusCode} {body.ToJsonString()}");
        var o = scene.Objects[0];
        return body["best_of_candidates"]!.AsArray().Select(c =>
        {
            var parsed = WorldText.ParseCaption(c!["content"]!.GetValue<string>());
            bool right = parsed.Count == 1 && parsed[0] == (o.SizeName, o.ColourName, o.ShapeName, o.PositionName);
            return (c["rating"]?.GetValue<int>(), right);
        }).ToList();
    }
}
