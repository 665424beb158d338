using System.Diagnostics;
using System.Text.Json.Nodes;
using AllInOne.Hosting;
using Platform.Multimodal.World;

namespace Platform.Train.Evaluation;

/// <summary>A slice of the evaluation: which colour/shape pairs and which wordings its requests use.</summary>
public sealed record EvalCondition(string Name, WorldSplit Pairs, PhrasingSplit Phrasing, string Role);

/// <summary>
/// Measures a model folder on the path users get: the gateway (all-in-one, in this process, its defaults) with the
/// engine (TextEngine, the chat template, span decode) and ImageGen, through the OpenAI chat API, once at the API's
/// default temperature (1, no temperature sent) and once greedy (0). Requests are built by the world's generator
/// from a seed no training stage uses, per condition: seen pairs and wordings, the design held-out pairs and
/// wordings (watched while designing) and the test ones (untouched; the published figures). Pictures are judged
/// by the hand-written <see cref="SceneChecker"/>; an earlier answer goes back as the content string a plain client
/// received (markdown image links included).
/// </summary>
/// <param name="failures">Given, each failed two-picture turn, follow-up edit and two-picture answer and each small-talk answer with a picture is written to it
/// (mode, condition, the user turns, the answer and what the pixel checker read), to see what to train.</param>
public sealed class ServedEvaluator(string folder, int samples, int concurrency, Action<string> log, Action<string>? failures = null)
{
    public const int EvalSeed = 987_654;

    public static readonly IReadOnlyList<EvalCondition> Conditions =
    [
        new("seen", WorldSplit.Seen, PhrasingSplit.Seen, "trained pairs and wordings"),
        new("design-pairs", WorldSplit.HeldOut, PhrasingSplit.Seen, "held-out pairs that guided design"),
        new("design-phrasings", WorldSplit.Seen, PhrasingSplit.HeldOut, "held-out wordings that guided design"),
        new("test-pairs", WorldSplit.Test, PhrasingSplit.Seen, "untouched held-out pairs"),
        new("test-phrasings", WorldSplit.Seen, PhrasingSplit.Test, "untouched held-out wordings"),
    ];

    public static readonly (string Name, double? Temperature)[] Modes = [("temperature_1", null), ("greedy", 0.0)];

    public async Task<JsonObject> RunAsync(CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        await using var gateway = await InProcessGateway.StartAsync(new Dictionary<string, string?>
        {
            ["Models:demo:Path"] = Path.GetFullPath(folder),
            ["Models:demo:Multimodal"] = "true",
            ["Models:demo:Engine:MaxConcurrentSequences"] = concurrency.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["ImageGen:MaxConcurrentRequests"] = concurrency.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Bus:Transport"] = "InMemory",
        });
        using var http = new HttpClient { BaseAddress = gateway.Address, Timeout = TimeSpan.FromMinutes(5) };
        var client = new DemoApiClient(http, "demo");
        var report = new JsonObject { ["model"] = folder, ["samples_per_task"] = samples, ["image_size"] = WorldSpec.ImageSize };
        var modes = new JsonObject();
        foreach (var (mode, temperature) in Modes)
        {
            var node = new JsonObject();
            foreach (var condition in Conditions)
            {
                node[condition.Name] = await ScoreAsync(client, condition, temperature, ct);
                log($"{mode} {condition.Name} scored ({clock.Elapsed.TotalSeconds:F0} s)");
            }
            node["small_talk"] = await SmallTalkAsync(client, temperature, ct);
            modes[mode] = node;
        }
        report["modes"] = modes;
        report["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1);
        return report;
    }

    private sealed class Tally
    {
        private int _hit, _total;
        public void Add(bool hit) { _total++; if (hit) _hit++; }
        public JsonNode? Value => _total == 0 ? null : Math.Round(_hit / (double)_total, 4);
        public int Total => _total;
    }

    /// <summary>Runs the jobs with at most <see cref="concurrency"/> in flight; results in job order.</summary>
    private async Task<T[]> AllAsync<T>(IReadOnlyList<Func<Task<T>>> jobs, CancellationToken ct)
    {
        using var gate = new SemaphoreSlim(concurrency);
        return await Task.WhenAll(jobs.Select(async job =>
        {
            await gate.WaitAsync(ct);
            try { return await job(); }
            finally { gate.Release(); }
        }));
    }

    /// <summary>Plays the user turns of a dialogue; each earlier answer goes back as the content string it came as.
    /// Returns the last answer.</summary>
    private static async Task<ChatAnswer> PlayAsync(DemoApiClient client, WorldDialogue dialogue, double? temperature, long seed, CancellationToken ct)
    {
        var messages = new JsonArray();
        ChatAnswer? answer = null;
        foreach (var turn in dialogue.Turns)
        {
            if (turn.Role != "user") continue;
            if (answer is not null) messages.Add(new JsonObject { ["role"] = "assistant", ["content"] = answer.Content });
            messages.Add(DemoApiClient.UserMessage(turn));
            answer = await client.ChatAsync(messages, temperature, seed, ct);
        }
        return answer!;
    }

    private void Failed(double? temperature, string condition, WorldDialogue d, ChatAnswer a, string why) =>
        failures?.Invoke($"{(temperature is null ? "temperature_1" : "greedy")} {condition} {d.Kind}: "
            + string.Join(" | ", d.Turns.Where(t => t.Role == "user").Select(t => t.Text)) + $" -> \"{a.Text}\" ({why})");

    private static string Normalise(string text) => text.Trim().TrimEnd('.', '!').Trim().ToLowerInvariant();

    private static bool Scored(EvalCondition c, SceneObject o) => c.Pairs switch
    {
        WorldSplit.HeldOut => WorldSpec.IsDesignPair(o.Colour, o.Shape),
        WorldSplit.Test => WorldSpec.IsTestPair(o.Colour, o.Shape),
        _ => true,
    };

    private async Task<JsonObject> ScoreAsync(DemoApiClient client, EvalCondition c, double? temperature, CancellationToken ct)
    {
        var generator = new SceneGenerator(EvalSeed + 1000 * Conditions.ToList().IndexOf(c));
        var random = new Random(EvalSeed + 7 + Conditions.ToList().IndexOf(c));
        string[] describe = ["describe the image.", "What is in this picture?", "caption this image, please."];
        // Every request of the condition is built first (the generator is sequential), then sent concurrently.
        var captions = Enumerable.Range(0, samples).Select(_ =>
        {
            var scene = generator.NextScene(c.Pairs);
            var prompt = describe[random.Next(describe.Length)];
            var text = random.Next(2) == 0 ? $"{WorldText.ImagePlaceholder} {prompt}" : $"{prompt} {WorldText.ImagePlaceholder}";
            return new WorldDialogue("caption", [new("user", text, [scene]), new("assistant", scene.Caption() + ".", [])]);
        }).ToList();
        var draws = Enumerable.Range(0, samples).Select(_ =>
        {
            var scene = generator.NextScene(c.Pairs, jitter: false);
            return new WorldDialogue("request", [new("user", Phrasings.DrawRequest(random, scene.Objects, c.Phrasing).Text, []), SceneGenerator.Drawn(scene)]);
        }).ToList();
        var questions = Enumerable.Range(0, samples).Select(_ => generator.Look(c.Pairs)).ToList();
        var compares = Enumerable.Range(0, samples).Select(_ => generator.Compare(c.Pairs)).ToList();
        var twoPictures = Enumerable.Range(0, samples).Select(_ => generator.TwoPictures(c.Pairs, c.Phrasing)).ToList();
        var followUps = Enumerable.Range(0, samples).Select(i => generator.FollowUp(c.Pairs, c.Phrasing, (SceneGenerator.FollowUpKind)(i % 8))).ToList();
        var retrievals = Enumerable.Range(0, samples).Select(_ => generator.Retrieval(c.Pairs)).ToList();

        async Task<ChatAnswer[]> Run(List<WorldDialogue> dialogues, int offset) =>
            await AllAsync(dialogues.Select((d, i) => (Func<Task<ChatAnswer>>)(() => PlayAsync(client, d, temperature, offset + i, ct))).ToList(), ct);

        Tally cColour = new(), cShape = new(), cPosition = new(), cSize = new(), cExact = new(), cNoImage = new();
        foreach (var (d, a) in captions.Zip(await Run(captions, 0)))
        {
            var scene = d.Turns[0].InputImages[0];
            var parsed = WorldText.ParseCaption(a.Text);
            cNoImage.Add(a.Images.Count == 0);
            cExact.Add(Normalise(a.Text) == Normalise(scene.Caption()));
            for (int k = 0; k < scene.Objects.Count; k++)
            {
                var o = scene.Objects[k];
                if (!Scored(c, o)) continue;
                var p = k < parsed.Count ? parsed[k] : default;
                cColour.Add(p.Colour == o.ColourName);
                cShape.Add(p.Shape == o.ShapeName);
                cPosition.Add(p.Position == o.PositionName);
                cSize.Add(p.Size == o.SizeName);
            }
        }

        Tally gColour = new(), gShape = new(), gPosition = new(), gSize = new(), gExact = new(), gDecision = new(), restated = new(), decision = new();
        foreach (var (d, a) in draws.Zip(await Run(draws, 10_000)))
        {
            var target = d.Turns[1].OutputScene!;
            var found = a.Images.Count > 0 ? SceneChecker.Check(a.Images[0].Rgb) : [];
            gExact.Add(a.Images.Count == 1 && found.SequenceEqual(target.Objects));
            gDecision.Add(a.Images.Count == 1 && a.Images[0].Source == "generate");
            decision.Add(a.Images.Count == 1 && a.Images[0].Source == "generate");
            restated.Add(Normalise(a.Text).Contains(target.Caption(), StringComparison.Ordinal));
            foreach (var o in target.Objects)
            {
                if (!Scored(c, o)) continue;
                // The checker's object of that colour when there is one, else the one in that cell.
                var f = found.FirstOrDefault(x => x.Colour == o.Colour) ?? found.FirstOrDefault(x => x.Cell == o.Cell);
                gColour.Add(f is not null && f.Colour == o.Colour);
                gShape.Add(f is not null && f.Shape == o.Shape);
                gPosition.Add(f is not null && f.Cell == o.Cell);
                gSize.Add(f is not null && f.Size == o.Size);
            }
        }

        Tally answers = new();
        foreach (var (d, a) in questions.Zip(await Run(questions, 20_000)))
            answers.Add(a.Images.Count == 0 && Normalise(a.Text) == Normalise(d.Turns[^1].Text));

        Tally twoImageTurns = new();
        foreach (var (d, a) in compares.Zip(await Run(compares, 30_000)))
        {
            var right = a.Images.Count == 0 && Normalise(a.Text) == Normalise(d.Turns[^1].Text);
            twoImageTurns.Add(right);
            if (!right) Failed(temperature, c.Name, d, a, $"wanted \"{d.Turns[^1].Text}\"{(a.Images.Count > 0 ? $" and no picture, drew {a.Images.Count}" : "")}");
        }

        Tally multiImage = new();
        foreach (var (d, a) in twoPictures.Zip(await Run(twoPictures, 40_000)))
        {
            var wanted = d.Turns[^1].Outputs;
            var right = a.Images.Count == wanted.Count && wanted.Zip(a.Images).All(p => SceneChecker.Check(p.Second.Rgb).SequenceEqual(p.First.Objects));
            multiImage.Add(right);
            if (!right)
                Failed(temperature, c.Name, d, a, $"wanted {string.Join(" then ", wanted.Select(w => w.Caption()))}; the checker read "
                    + string.Join(" then ", a.Images.Select(i => new Scene(SceneChecker.Check(i.Rgb)).Caption())));
        }

        Tally edits = new(), recalls = new();
        foreach (var (d, a) in followUps.Zip(await Run(followUps, 50_000)))
        {
            var last = d.Turns[^1];
            if (last.OutputScene is { } after)
            {
                var found = a.Images.Count == 1 ? SceneChecker.Check(a.Images[0].Rgb) : [];
                var right = a.Images.Count == 1 && found.SequenceEqual(after.Objects);
                edits.Add(right);
                if (!right) Failed(temperature, c.Name, d, a, $"wanted {after.Caption()}; the checker read {(a.Images.Count == 1 ? new Scene(found).Caption() : $"{a.Images.Count} pictures")}");
            }
            else recalls.Add(a.Images.Count == 0 && Normalise(a.Text) == Normalise(last.Text));
        }

        Tally recall = new(), rDecision = new();
        foreach (var (d, a) in retrievals.Zip(await Run(retrievals, 60_000)))
        {
            var wanted = d.Turns[^1].OutputScene!;
            recall.Add(a.Images.Count == 1 && a.Images[0].Source == "retrieve" && SceneChecker.Check(a.Images[0].Rgb).SequenceEqual(wanted.Objects));
            rDecision.Add(a.Images.Count == 1 && a.Images[0].Source == "retrieve");
            decision.Add(a.Images.Count == 1 && a.Images[0].Source == "retrieve");
        }
        return new JsonObject
        {
            ["role"] = c.Role,
            ["caption_colour"] = cColour.Value, ["caption_shape"] = cShape.Value, ["caption_position"] = cPosition.Value,
            ["caption_size"] = cSize.Value, ["caption_exact"] = cExact.Value, ["caption_without_image"] = cNoImage.Value,
            ["generation_colour"] = gColour.Value, ["generation_shape"] = gShape.Value, ["generation_position"] = gPosition.Value,
            ["generation_size"] = gSize.Value, ["generation_exact"] = gExact.Value, ["generation_restated"] = restated.Value,
            ["answers"] = answers.Value, ["two_image_turns"] = twoImageTurns.Value, ["multi_image_answers"] = multiImage.Value,
            ["follow_up_edits"] = edits.Value, ["follow_up_questions"] = recalls.Value,
            ["retrieval_recall_at_1"] = recall.Value,
            ["decision_accuracy"] = decision.Value, ["decision_generate"] = gDecision.Value, ["decision_retrieve"] = rDecision.Value,
            ["scored_objects"] = gColour.Total,
        };
    }

    private async Task<JsonObject> SmallTalkAsync(DemoApiClient client, double? temperature, CancellationToken ct)
    {
        var generator = new SceneGenerator(EvalSeed + 99);
        var node = new JsonObject();
        foreach (var heldOut in new[] { false, true })
        {
            var dialogues = Enumerable.Range(0, samples).Select(i => i % 2 == 0 ? generator.SmallTalk(heldOut) : generator.OutOfWorld(heldOut)).ToList();
            var results = await AllAsync(dialogues.Select((d, i) => (Func<Task<ChatAnswer>>)(() => PlayAsync(client, d, temperature, 70_000 + i, ct))).ToList(), ct);
            Tally noImage = new(), right = new();
            foreach (var (d, a) in dialogues.Zip(results))
            {
                noImage.Add(a.Images.Count == 0);
                if (a.Images.Count > 0) Failed(temperature, heldOut ? "held-out prompts" : "trained prompts", d, a, "drew a picture");
                right.Add(a.Images.Count == 0 && Normalise(a.Text) == Normalise(d.Turns[^1].Text));
            }
            node[heldOut ? "held_out_prompts" : "trained_prompts"] = new JsonObject { ["without_image"] = noImage.Value, ["exact_answer"] = right.Value };
        }
        return node;
    }
}
