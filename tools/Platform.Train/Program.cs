using Platform.Multimodal.Training;
using Platform.Train.Evaluation;

// Platform.Train: trains the demo multimodal family from scratch, or evaluates a trained folder.
//   all  --out models/demo [--quick] [--stages decoder,visual,tokenizer,lm,heads] [--steps N] [--decoder-steps N] [--visual-steps N] [--lm-steps N] [--head-steps N] [--lm-extra N] [--seed S] [--threads T]
//   eval --model models/demo [--quick] [--json PATH] [--samples N] [--concurrency C] [--failures PATH]
//   moe  --out models/demo-moe [--quick] [--dense models/demo] [--stages vq,base,adapter] [--vq-steps N] [--base-steps N] [--adapter-steps N] [--adapter-batch B] [--adapter-lr LR] [--adapter-rank R] [--adapter-init random|gw] [--seed S] [--threads T]
//   moe-eval --model models/demo-moe [--checks vq,routing,draw] [--count N] [--draw N] [--routing-count N] [--seed S]
//   moe-eval --url http://127.0.0.1:PORT [--served-model demo-moe] [--draw N]   (drawings through a running platform)
//   moe-gw   --model models/demo-moe [--seeds 3] [--steps N] [--batch B] [--json PATH]   (GW vs random image-token embeddings)
//   samples [--count N] [--seed S]   (conversations of the training stream)
//   judge --out models/demo-judge [--steps N] [--batch B] [--seed S] [--threads T]
//   judge-eval --url http://127.0.0.1:PORT [--model demo-judge] [--pairs N] [--ratings N] [--media text,image,caption] [--concurrency C]
//   judge-bestof --url http://127.0.0.1:PORT [--model demo] [--judge demo-judge] [--requests N] [--candidates 8] [--concurrency C]
Platform.Inference.Runtime.OpenMpEnvironment.ApplyDefaults(); // before the first torch call
return Cli.Run(args);

internal static class Cli
{
    public static int Run(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" || args.Skip(1).Any(a => a is "-h" or "--help"))
        {
            Console.WriteLine("usage: Platform.Train all --out DIR [--quick] [--stages decoder,visual,tokenizer,lm,heads] [--steps N] [--decoder-steps N] [--visual-steps N] [--lm-steps N] [--head-steps N] [--lm-extra N] [--seed S] [--threads T]\n" +
                              "       Platform.Train eval --model DIR [--quick] [--json PATH] [--samples N] [--concurrency C] [--threads T] [--failures PATH]\n" +
                              "       Platform.Train moe --out DIR [--quick] [--dense DIR] [--stages vq,base,adapter] [--vq-steps N] [--base-steps N] [--adapter-steps N] [--adapter-batch B] [--adapter-lr LR] [--adapter-rank R] [--adapter-init random|gw] [--seed S] [--threads T]\n" +
                              "       Platform.Train moe-eval --model DIR [--checks vq,routing,draw] [--count N] [--draw N] [--routing-count N] [--seed S]\n" +
                              "       Platform.Train moe-eval --url URL [--served-model demo-moe] [--draw N]\n" +
                              "       Platform.Train moe-gw --model DIR [--seeds 3] [--steps N] [--batch B] [--json PATH]\n" +
                              "       Platform.Train samples [--count N] [--seed S]\n" +
                              "       Platform.Train judge --out DIR [--steps N] [--batch B] [--seed S] [--threads T]\n" +
                              "       Platform.Train judge-eval --url URL [--model demo-judge] [--pairs N] [--ratings N] [--media text,image,caption] [--concurrency C]\n" +
                              "       Platform.Train judge-bestof --url URL [--model demo] [--judge demo-judge] [--requests N] [--candidates 8] [--concurrency C]");
            return args.Length == 0 ? 2 : 0;
        }
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
        try
        {
            // Inside the try: a malformed flag is a one-line error, not an unhandled exception.
            var flags = Parse(args.Skip(1).ToArray());
            switch (args[0])
            {
                case "all":
                {
                    var output = flags.GetValueOrDefault("out") ?? "models/demo";
                    var options = flags.ContainsKey("quick") ? TrainOptions.Quick(output) : new TrainOptions { OutputFolder = output };
                    if (flags.TryGetValue("steps", out var steps))
                    {
                        int n = int.Parse(steps);
                        options = options with { DecoderSteps = n, VisualSteps = n, LmSteps = n, HeadSteps = n };
                    }
                    // Per-stage step counts (for quick experiments on one stage's effect).
                    if (flags.TryGetValue("decoder-steps", out var ds)) options = options with { DecoderSteps = int.Parse(ds) };
                    if (flags.TryGetValue("visual-steps", out var vs)) options = options with { VisualSteps = int.Parse(vs) };
                    if (flags.TryGetValue("lm-steps", out var ls)) options = options with { LmSteps = int.Parse(ls) };
                    if (flags.TryGetValue("head-steps", out var hs)) options = options with { HeadSteps = int.Parse(hs) };
                    if (flags.TryGetValue("seed", out var seed)) options = options with { Seed = int.Parse(seed) };
                    if (flags.TryGetValue("threads", out var threads)) options = options with { Threads = int.Parse(threads) };
                    if (flags.TryGetValue("lm-extra", out var extra)) options = options with { LmExtraConversations = int.Parse(extra) };
                    if (flags.ContainsKey("noise-without-colours")) options = options with { ColourNoiseWithoutColours = true };
                    // One stage alone (or a few): the others' outputs are read from the folder.
                    var stages = flags.TryGetValue("stages", out var list) ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : null;
                    new FamilyTrainer(options, Console.WriteLine).Run(cts.Token, stages);
                    return 0;
                }
                case "moe":
                    // The MoE adapter family (VQ image tokenizer, text-only MoE base ...), its own folder.
                    return MoeCommand.Train(flags, cts.Token);
                case "moe-eval":
                    return MoeEvalCommand.Run(flags, cts.Token);
                case "moe-gw":
                    return MoeGwCommand.Run(flags, cts.Token);
                case "samples":
                {
                    // Prints conversations of the LM's training stream (seen pairs and phrasings), to read the grammar.
                    int n = flags.TryGetValue("count", out var c) ? int.Parse(c) : 20;
                    var g = new Platform.Multimodal.World.SceneGenerator(flags.TryGetValue("seed", out var sd) ? int.Parse(sd) : 1);
                    for (int i = 0; i < n; i++)
                    {
                        var d = g.NextConversation();
                        Console.WriteLine($"-- {d.Kind}");
                        foreach (var turn in d.Turns) Console.WriteLine($"{turn.Role}: {turn.Text}");
                    }
                    return 0;
                }
                case "eval":
                {
                    // Through the gateway (all-in-one, in this process) at temperature 1 (the API default) and greedy.
                    var model = flags.GetValueOrDefault("model") ?? "models/demo";
                    int samples = flags.ContainsKey("quick") ? 2 : flags.TryGetValue("samples", out var s) ? int.Parse(s) : 40;
                    int concurrency = flags.TryGetValue("concurrency", out var cc) ? int.Parse(cc) : 8;
                    if (flags.TryGetValue("threads", out var t)) TorchSharp.torch.set_num_threads(int.Parse(t));
                    using var failures = flags.TryGetValue("failures", out var fp) ? new StreamWriter(fp) : null;
                    var report = new ServedEvaluator(model, samples, concurrency, Console.WriteLine,
                        failures is null ? null : line => { lock (failures) failures.WriteLine(line); }).RunAsync(cts.Token).GetAwaiter().GetResult();
                    Console.WriteLine(ReportMarkdown.Render(report));
                    if (flags.TryGetValue("json", out var json))
                        File.WriteAllText(json, report.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
                    return 0;
                }
                case "judge":
                    // Trains models/demo-judge in the demo world (its own stage, see Judge/DemoJudgeTrainer.cs).
                    return Platform.Train.Judge.JudgeCommand.Train(flags, cts.Token);
                case "judge-eval":
                    return Platform.Train.Judge.JudgeEvalCommand.Run(flags, cts.Token);
                case "judge-bestof":
                    return new Platform.Train.Judge.BestOfEvaluator(new Uri(flags.GetValueOrDefault("url") ?? "http://127.0.0.1:5080"),
                        flags.GetValueOrDefault("model") ?? "demo", flags.GetValueOrDefault("judge") ?? "demo-judge",
                        int.Parse(flags.GetValueOrDefault("requests") ?? "40"), int.Parse(flags.GetValueOrDefault("candidates") ?? "8"),
                        int.Parse(flags.GetValueOrDefault("concurrency") ?? "2"), Console.WriteLine).RunAsync(cts.Token).GetAwaiter().GetResult();
                default:
                    Console.Error.WriteLine($"unknown command '{args[0]}' (use all, moe, moe-eval, moe-gw, eval, samples, judge, judge-eval or judge-bestof)");
                    return 2;
            }
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("cancelled");
            return 130;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or FileNotFoundException or InvalidDataException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }

    private static Dictionary<string, string> Parse(string[] args)
    {
        var flags = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal)) throw new ArgumentException($"unexpected argument '{args[i]}'");
            var key = args[i][2..];
            if (key is "quick" or "noise-without-colours" or "resume") { flags[key] = "true"; continue; }
            if (i + 1 >= args.Length) throw new ArgumentException($"--{key} needs a value");
            flags[key] = args[++i];
        }
        return flags;
    }
}
