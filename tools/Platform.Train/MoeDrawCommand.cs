using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Platform.Inference.Models.Moe;
using Platform.Inference.Tokenization;
using Platform.Multimodal.Imaging;
using Platform.Multimodal.MoeAdapter;
using Platform.Multimodal.MoeAdapter.Training;
using Platform.Multimodal.Onnx;
using Platform.Multimodal.Training;
using Platform.Multimodal.World;
using Platform.Train.Evaluation;

/// <summary>The drawing requests every drawing check asks, per split: seen phrasings, a seed no training stream uses.</summary>
internal static class MoeDrawRequests
{
    public const int Seed = 5151;

    public static IReadOnlyList<WorldDialogue> Of(WorldSplit split, int count)
    {
        var generator = new SceneGenerator(Seed + 10 * (int)split);
        return Enumerable.Range(0, count).Select(_ => generator.Request(split, PhrasingSplit.Seen)).ToList();
    }

    /// <summary>Whether the pixel checker reads exactly the request's scene from an RGB picture.</summary>
    public static bool Right(WorldDialogue request, byte[] rgb) => SceneChecker.Check(rgb).SequenceEqual(request.Turns[1].OutputScene!.Objects);
}

/// <summary>"moe-eval --draw N": the training side's check of a folder's image adapter: drawings sampled from the torch
/// <see cref="ImageTokenAdapter.Forward"/> loop (<see cref="ImageTokenSampler"/>), decoded by the ONNX VQ decoder, read by
/// the pixel checker; seen and test pairs, temperature 1 and greedy. Not the served path (see --url).</summary>
internal static class MoeDrawCheck
{
    public static void Run(string folder, int count, CancellationToken ct)
    {
        using var lm = MoeAdapterStage.LoadBase(folder);
        var tokenizer = TokenizerLoader.Load(folder);
        using var adapter = ImageTokenAdapter.Load(lm, folder) ?? throw new FileNotFoundException($"{folder}: no {ImageTokenAdapterConfig.FileName} (train the adapter stage first)");
        var config = ImageTokenAdapterConfig.TryRead(folder)!;
        using var vq = MoeFamilyTrainer.LoadVq(folder);
        using var onnx = new OnnxVqDecoder(Path.Combine(folder, MoeModelFiles.VqDecoderOnnx));
        var vocabulary = config.Vocabulary;
        var chat = new DemoChat(tokenizer, visualTokens: 1);
        var sequences = new ImageTokenSequences(chat, vocabulary);
        var stops = new HashSet<int>(lm.Config.EosTokenIds) { chat.ImEnd };
        var sampler = new ImageTokenSampler(adapter, vocabulary, stops);
        int s = WorldSpec.ImageSize;
        Console.WriteLine($"Training-side drawing check (torch ImageTokenAdapter.Forward sampling loop, constrained pictures, ONNX VQ decoder, SceneChecker), {folder}, {count} requests per row (seed {MoeDrawRequests.Seed}), seen phrasings");
        Console.WriteLine("| pairs | temperature | every attribute right | a picture drawn | VQ reconstruction of the target right | right where the VQ reconstruction is right | codes equal to the target's |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var split in new[] { WorldSplit.Seen, WorldSplit.Test })
        {
            var requests = MoeDrawRequests.Of(split, count);
            var targets = ImageTokenSequences.Codes(vq, requests);
            var ceiling = onnx.Run(targets, count);
            var reconstructionRight = Enumerable.Range(0, count).Select(i => MoeDrawRequests.Right(requests[i], SceneRenderer.FromPlanar(ceiling.AsSpan(i * 3 * s * s, 3 * s * s)))).ToArray();
            foreach (var temperature in new[] { 1.0, 0.0 })
            {
                int right = 0, drawn = 0, rightWhereCeiling = 0;
                long codesEqual = 0;
                for (int i = 0; i < count; i++)
                {
                    var answer = sampler.Generate(sequences.Prompt(requests[i]), temperature, new Random(i), ct: ct);
                    if (answer.Pictures.Count == 0) continue;
                    drawn++;
                    var codes = answer.Pictures[0];
                    for (int j = 0; j < codes.Length; j++) if (codes[j] == targets[i * codes.Length + j]) codesEqual++;
                    var rgb = SceneRenderer.FromPlanar(onnx.Run(codes, 1));
                    if (MoeDrawRequests.Right(requests[i], rgb)) { right++; if (reconstructionRight[i]) rightWhereCeiling++; }
                }
                int ceilingCount = reconstructionRight.Count(x => x);
                Console.WriteLine($"| {split} | {(temperature == 0 ? "greedy" : "1")} | {right / (double)count:P1} ({right}/{count}) | {drawn / (double)count:P1} | {ceilingCount / (double)count:P1} | " +
                                  $"{(ceilingCount == 0 ? "n/a" : (rightWhereCeiling / (double)ceilingCount).ToString("P1"))} | {codesEqual / (double)(count * vocabulary.CodesPerImage):P1} |");
            }
        }
    }
}

/// <summary>"moe-eval --url URL": drawings of demo-moe through a running platform (OpenAI chat completions and the images
/// API over HTTP, as a client sends them), read by the pixel checker; seen and test pairs, temperature 1 and greedy.</summary>
internal static class MoeServedDrawCheck
{
    public static async Task<int> RunAsync(Uri url, string model, int count, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromMinutes(5) };
        var client = new DemoApiClient(http, model);
        Console.WriteLine($"Served drawing check: {url} model {model}, {count} requests per row (seed {MoeDrawRequests.Seed}), seen phrasings, pictures read by SceneChecker");
        Console.WriteLine("| pairs | API | temperature | every attribute right | answers with a picture | errors |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var split in new[] { WorldSplit.Seen, WorldSplit.Test })
        {
            var requests = MoeDrawRequests.Of(split, count);
            foreach (var temperature in new double[] { 1, 0 })
            {
                int right = 0, pictured = 0, errors = 0;
                string? firstError = null;
                for (int i = 0; i < count; i++)
                {
                    try
                    {
                        var answer = await client.ChatAsync([DemoApiClient.UserMessage(requests[i].Turns[0])], temperature, i, ct);
                        if (answer.Images.Count == 0) continue;
                        pictured++;
                        if (MoeDrawRequests.Right(requests[i], answer.Images[0].Rgb)) right++;
                    }
                    catch (Exception e) when (e is InvalidOperationException or HttpRequestException or InvalidDataException or TaskCanceledException && !ct.IsCancellationRequested)
                    {
                        errors++;
                        firstError ??= e.Message;
                    }
                }
                Console.WriteLine($"| {split} | chat | {(temperature == 0 ? "greedy" : "1")} | {right / (double)count:P1} ({right}/{count}) | {pictured / (double)count:P1} | {errors} |");
                if (firstError is not null) Console.WriteLine($"first error: {firstError}");
            }
            foreach (var temperature in new double[] { 1, 0 })
            {
                int right = 0, pictured = 0, errors = 0;
                string? firstError = null;
                for (int i = 0; i < count; i++)
                {
                    try
                    {
                        var rgb = await GenerateImageAsync(http, model, requests[i].Turns[0].Text, temperature, ct);
                        pictured++;
                        if (MoeDrawRequests.Right(requests[i], rgb)) right++;
                    }
                    catch (Exception e) when (e is InvalidOperationException or HttpRequestException or InvalidDataException or FormatException or TaskCanceledException && !ct.IsCancellationRequested)
                    {
                        errors++;
                        firstError ??= e.Message;
                    }
                }
                Console.WriteLine($"| {split} | images | {(temperature == 0 ? "greedy" : "1")} | {right / (double)count:P1} ({right}/{count}) | {pictured / (double)count:P1} | {errors} |");
                if (firstError is not null) Console.WriteLine($"first error: {firstError}");
            }
        }
        return 0;
    }

    /// <summary>POST /v1/images/generations (n 1, b64_json) and the picture's RGB pixels.</summary>
    private static async Task<byte[]> GenerateImageAsync(HttpClient http, string model, string prompt, double temperature, CancellationToken ct)
    {
        var body = new JsonObject { ["model"] = model, ["prompt"] = prompt, ["n"] = 1, ["response_format"] = "b64_json", ["temperature"] = temperature };
        using var response = await http.PostAsJsonAsync("/v1/images/generations", body, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"HTTP {(int)response.StatusCode}: {text}");
        var b64 = (string?)JsonNode.Parse(text)?["data"]?[0]?["b64_json"] ?? throw new InvalidDataException("images API: no data[0].b64_json");
        var (w, h, rgb) = ImageCodec.DecodeRgb(Convert.FromBase64String(b64));
        if (w != WorldSpec.ImageSize || h != WorldSpec.ImageSize) throw new InvalidDataException($"images API: {w}x{h}, the world's pictures are {WorldSpec.ImageSize}x{WorldSpec.ImageSize}");
        return rgb;
    }
}

/// <summary>"moe-eval --routing": routing of text and image tokens per layer and expert, before adapter training (the
/// stage's initial adapter, same seed) and after (the folder's adapter), written to the folder as routing.json, .md, .svg.</summary>
internal static class MoeRoutingCheck
{
    public const double Threshold = 0.8;

    public static void Run(string folder, int count, int seed, CancellationToken ct)
    {
        var config = ImageTokenAdapterConfig.TryRead(folder) ?? throw new FileNotFoundException($"{folder}: no {ImageTokenAdapterConfig.FileName} (train the adapter stage first)");
        var tokenizer = TokenizerLoader.Load(folder);
        using var vq = MoeFamilyTrainer.LoadVq(folder);
        var sequences = new ImageTokenSequences(new DemoChat(tokenizer, visualTokens: 1), config.Vocabulary);
        var requests = MoeDrawRequests.Of(WorldSplit.Seen, count);
        var codes = ImageTokenSequences.Codes(vq, requests);
        int per = config.Vocabulary.CodesPerImage;
        var inputs = requests.Select((r, i) => sequences.Sequence(r, codes.AsSpan(i * per, per)).Ids).ToList();
        var options = new MoeTrainOptions { OutputFolder = folder, Seed = seed, AdapterRank = config.LoraRank, AdapterAlpha = config.LoraAlpha };
        ModalityRoutingStatistics before, after;
        using (var lm = MoeAdapterStage.LoadBase(folder))
        using (var initial = MoeAdapterStage.Initial(options, lm, tokenizer, vq, ct: ct))
            before = RoutingAnalysis.Measure(initial, inputs, ct);
        using (var lm = MoeAdapterStage.LoadBase(folder))
        using (var trained = ImageTokenAdapter.Load(lm, folder)!)
            after = RoutingAnalysis.Measure(trained, inputs, ct);
        var reports = new[] { RoutingReport.Of("before adapter training", before, Threshold), RoutingReport.Of("after adapter training", after, Threshold) };
        RoutingReportWriter.Write(folder, reports);
        Console.WriteLine($"Routing of {count} seen drawing requests with their pictures (teacher forced), threshold {Threshold}; written to {folder}/{RoutingReportWriter.JsonFile}, {RoutingReportWriter.MarkdownFile}, {RoutingReportWriter.SvgFile}");
        Console.WriteLine(RoutingReportWriter.Markdown(reports));
    }
}
