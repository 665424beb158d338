using Platform.Multimodal.Evaluation;
using Platform.Multimodal.Training;

// Platform.Train: trains the demo multimodal family from scratch, or evaluates a trained folder.
//   all  --out models/demo [--quick] [--steps N] [--decoder-steps N] [--visual-steps N] [--lm-steps N] [--head-steps N] [--seed S] [--threads T]
//   eval --model models/demo [--json PATH] [--samples N]
//   judge --out models/demo-judge [--steps N] [--batch B] [--seed S] [--threads T]
//   judge-eval --url http://127.0.0.1:PORT [--model demo-judge] [--pairs N] [--ratings N]
Platform.Inference.Runtime.OpenMpEnvironment.ApplyDefaults(); // before the first torch call
return Cli.Run(args);

internal static class Cli
{
    public static int Run(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.WriteLine("usage: Platform.Train all --out DIR [--quick] [--steps N] [--decoder-steps N] [--visual-steps N] [--lm-steps N] [--head-steps N] [--seed S] [--threads T]\n" +
                              "       Platform.Train eval --model DIR [--json PATH] [--samples N] [--threads T]");
            return args.Length == 0 ? 2 : 0;
        }
        var flags = Parse(args.Skip(1).ToArray());
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
        try
        {
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
                    new FamilyTrainer(options, Console.WriteLine).Run(cts.Token);
                    return 0;
                }
                case "decoder":
                {
                    var options = new TrainOptions { OutputFolder = flags.GetValueOrDefault("out") ?? "decoder-only" };
                    if (flags.TryGetValue("steps", out var steps)) options = options with { DecoderSteps = int.Parse(steps) };
                    new FamilyTrainer(options, Console.WriteLine).RunDecoderOnly(cts.Token);
                    return 0;
                }
                case "ask":
                {
                    // Prints the model's greedy answers to a few held-out prompts (a quick look, not a metric).
                    var model = flags.GetValueOrDefault("model") ?? "models/demo";
                    TorchSharp.torch.set_num_threads(1);
                    using var loaded = Platform.Inference.Loading.ModelLoader.Load(model);
                    using var models = Platform.Multimodal.Serving.MultimodalModels.Load(model);
                    var decoder = new GreedyDecoder(loaded.Model, models.Heads, new DemoChat(loaded.Tokenizer, models.Config.VisualTokens));
                    var g = new Platform.Multimodal.World.SceneGenerator(5);
                    for (int i = 0; i < 6; i++)
                    {
                        var scene = g.NextScene(Platform.Multimodal.World.WorldSplit.HeldOut, objectCount: 1);
                        var cap = decoder.Answer([new Platform.Multimodal.World.WorldTurn("user", "<image> describe the image.", [scene])]);
                        var draw = decoder.Answer([new Platform.Multimodal.World.WorldTurn("user", $"draw {scene.Caption()}.", [])]);
                        Console.WriteLine($"{scene.Caption()} | caption: {cap.Text} | draw: {draw.Text}");
                    }
                    return 0;
                }
                case "eval":
                {
                    var model = flags.GetValueOrDefault("model") ?? "models/demo";
                    int samples = flags.TryGetValue("samples", out var s) ? int.Parse(s) : 200;
                    int threads = flags.TryGetValue("threads", out var t) ? int.Parse(t) : 1;
                    var report = new FamilyEvaluator(model, samples, threads, Console.WriteLine).Run(cts.Token);
                    Console.WriteLine(report.ToMarkdown());
                    if (flags.TryGetValue("json", out var json)) File.WriteAllText(json, report.ToJson());
                    return 0;
                }
                case "judge":
                    // Trains models/demo-judge in the demo world (its own stage, see Judge/DemoJudgeTrainer.cs).
                    return Platform.Train.Judge.JudgeCommand.Train(flags, cts.Token);
                case "judge-eval":
                    return Platform.Train.Judge.JudgeEvalCommand.Run(flags, cts.Token);
                default:
                    Console.Error.WriteLine($"unknown command '{args[0]}' (use all or eval)");
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
            if (key == "quick") { flags[key] = "true"; continue; }
            if (i + 1 >= args.Length) throw new ArgumentException($"--{key} needs a value");
            flags[key] = args[++i];
        }
        return flags;
    }
}
