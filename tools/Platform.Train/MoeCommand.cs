using Platform.Multimodal.MoeAdapter.Training;

/// <summary>"moe": trains the MoE adapter family (<see cref="MoeFamilyTrainer"/>) into its own folder.</summary>
internal static class MoeCommand
{
    public static int Train(IReadOnlyDictionary<string, string> flags, CancellationToken ct)
    {
        var output = flags.GetValueOrDefault("out") ?? "models/demo-moe";
        var dense = flags.GetValueOrDefault("dense") ?? "models/demo";
        var options = flags.ContainsKey("quick") ? MoeTrainOptions.Quick(output, dense) : new MoeTrainOptions { OutputFolder = output, DenseModel = dense };
        if (flags.TryGetValue("vq-steps", out var vs)) options = options with { VqSteps = int.Parse(vs) };
        if (flags.TryGetValue("base-steps", out var bs)) options = options with { BaseSteps = int.Parse(bs) };
        if (flags.TryGetValue("adapter-steps", out var a)) options = options with { AdapterSteps = int.Parse(a) };
        if (flags.TryGetValue("adapter-batch", out var ab)) options = options with { AdapterBatch = int.Parse(ab) };
        if (flags.TryGetValue("adapter-lr", out var lr)) options = options with { AdapterLr = double.Parse(lr, System.Globalization.CultureInfo.InvariantCulture) };
        if (flags.TryGetValue("adapter-rank", out var rank)) options = options with { AdapterRank = int.Parse(rank) };
        if (flags.TryGetValue("adapter-init", out var init))
            options = options with { AdapterInit = init switch { "gw" => Platform.Multimodal.MoeAdapter.ImageTokenInit.GromovWasserstein, "random" => Platform.Multimodal.MoeAdapter.ImageTokenInit.Random, _ => throw new ArgumentException($"--adapter-init {init}: use gw or random") } };
        if (flags.TryGetValue("seed", out var seed)) options = options with { Seed = int.Parse(seed) };
        if (flags.TryGetValue("threads", out var threads)) options = options with { Threads = int.Parse(threads) };
        var stages = flags.TryGetValue("stages", out var list) ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : null;
        new MoeFamilyTrainer(options, Console.WriteLine).Run(ct, stages);
        return 0;
    }
}

/// <summary>"moe-eval": the MoE family's figures on a trained folder (--checks vq,routing,draw, all by default): VQ
/// reconstructions through the ONNX decoder (the served path) read back by the pixel checker, per split, and the
/// ONNX-vs-torch difference; the routing analysis before and after adapter training (<see cref="MoeRoutingCheck"/>);
/// the training side's drawing check (<see cref="MoeDrawCheck"/>). With --url, drawings through a running platform
/// instead (<see cref="MoeServedDrawCheck"/>).</summary>
internal static class MoeEvalCommand
{
    public static int Run(IReadOnlyDictionary<string, string> flags, CancellationToken ct)
    {
        var folder = flags.GetValueOrDefault("model") ?? "models/demo-moe";
        if (flags.TryGetValue("threads", out var t)) TorchSharp.torch.set_num_threads(int.Parse(t));
        if (flags.TryGetValue("url", out var url))
            return MoeServedDrawCheck.RunAsync(new Uri(url), flags.GetValueOrDefault("served-model") ?? "demo-moe", flags.TryGetValue("draw", out var sd) ? int.Parse(sd) : 50, ct).GetAwaiter().GetResult();
        var checks = (flags.GetValueOrDefault("checks") ?? "vq,routing,draw").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (checks.FirstOrDefault(x => x is not ("vq" or "routing" or "draw")) is { } unknown) throw new ArgumentException($"--checks {unknown}: use vq, routing, draw");
        if (checks.Contains("routing"))
            MoeRoutingCheck.Run(folder, flags.TryGetValue("routing-count", out var rc) ? int.Parse(rc) : 64, flags.TryGetValue("seed", out var seed) ? int.Parse(seed) : new MoeTrainOptions().Seed, ct);
        if (checks.Contains("draw")) MoeDrawCheck.Run(folder, flags.TryGetValue("draw", out var d) ? int.Parse(d) : 50, ct);
        if (!checks.Contains("vq")) return 0;
        int count = flags.TryGetValue("count", out var c) ? int.Parse(c) : 400;
        using var vq = MoeFamilyTrainer.LoadVq(folder);
        using var onnx = new Platform.Multimodal.Onnx.OnnxVqDecoder(Path.Combine(folder, MoeModelFiles.VqDecoderOnnx));
        Console.WriteLine($"VQ tokenizer {folder}: {vq.Config.GridSize}x{vq.Config.GridSize} codes from {vq.Config.CodebookSize} entries of {vq.Config.CodeDim} dims; {count} scenes per row (seed 4343)");
        Console.WriteLine("| split | jitter | every attribute right (ONNX Runtime decoder) | (torch decoder) |");
        Console.WriteLine("|---|---|---|---|");
        foreach (var split in new[] { Platform.Multimodal.World.WorldSplit.Seen, Platform.Multimodal.World.WorldSplit.HeldOut, Platform.Multimodal.World.WorldSplit.Test })
            foreach (var jitter in new[] { false, true })
            {
                double viaOnnx = VqTokenizerStage.ReconstructionExactRate(vq, split, count, onnx.Run, jitter);
                double viaTorch = VqTokenizerStage.ReconstructionExactRate(vq, split, count, jitter: jitter);
                Console.WriteLine($"| {split} | {(jitter ? "yes" : "no")} | {viaOnnx:P1} | {viaTorch:P1} |");
            }
        foreach (var split in new[] { Platform.Multimodal.World.WorldSplit.Seen, Platform.Multimodal.World.WorldSplit.Test })
            Console.WriteLine($"{split}, unjittered, objects read wrong by attribute: {Misreads(vq, onnx, split, count)}");
        using var codes = TorchSharp.torch.randint(vq.Config.CodebookSize, [16, vq.Config.GridSize, vq.Config.GridSize], dtype: TorchSharp.torch.int64);
        float[] torchImages;
        using (TorchSharp.torch.no_grad()) torchImages = vq.Decode(codes).data<float>().ToArray();
        var onnxImages = onnx.Run(codes.data<long>().ToArray(), 16);
        Console.WriteLine($"max |ONNX Runtime - torch| on 16 random code grids: {torchImages.Zip(onnxImages).Max(p => Math.Abs(p.First - p.Second)):E2}");
        return 0;
    }

    /// <summary>Per attribute, how many objects of the scenes the checker reads wrong from the ONNX reconstructions.</summary>
    private static string Misreads(Platform.Multimodal.Models.Vq.VqTokenizer vq, Platform.Multimodal.Onnx.OnnxVqDecoder onnx, Platform.Multimodal.World.WorldSplit split, int count)
    {
        var generator = new Platform.Multimodal.World.SceneGenerator(4343);
        var scenes = Enumerable.Range(0, count).Select(_ => generator.NextScene(split, jitter: false)).ToList();
        using var scope = TorchSharp.torch.NewDisposeScope();
        using var _ = TorchSharp.torch.no_grad();
        var images = onnx.Run(vq.Encode(Platform.Multimodal.Training.LmBatch.RenderImages(scenes)).contiguous().data<long>().ToArray(), count);
        int s = Platform.Multimodal.World.WorldSpec.ImageSize, objects = 0, missing = 0, shape = 0, unclear = 0, size = 0, cell = 0, extra = 0;
        for (int i = 0; i < count; i++)
        {
            var read = Platform.Multimodal.World.SceneChecker.Read(Platform.Multimodal.World.SceneRenderer.FromPlanar(images.AsSpan(i * 3 * s * s, 3 * s * s)));
            foreach (var o in scenes[i].Objects)
            {
                objects++;
                var r = read.FirstOrDefault(x => x.Colour == o.Colour);
                if (r is null) { missing++; continue; }
                if (r.Shape is null) unclear++; else if (r.Shape != o.Shape) shape++;
                if (r.Size != o.Size) size++;
                if (r.Row != o.Row || r.Column != o.Column) cell++;
            }
            extra += read.Count(x => scenes[i].Objects.All(o => o.Colour != x.Colour));
        }
        return $"{objects} objects: colour missing {missing}, shape unclear {unclear}, other shape {shape}, size {size}, cell {cell}; extra colours {extra}";
    }
}

/// <summary>"moe-gw": image-token loss curves of the adapter from GW-initialised and from random code embeddings,
/// over several seeds, on the shipped base and VQ tokenizer.</summary>
internal static class MoeGwCommand
{
    public static int Run(IReadOnlyDictionary<string, string> flags, CancellationToken ct)
    {
        var folder = flags.GetValueOrDefault("model") ?? "models/demo-moe";
        int seeds = flags.TryGetValue("seeds", out var s) ? int.Parse(s) : 3;
        int steps = flags.TryGetValue("steps", out var st) ? int.Parse(st) : 40;
        int batch = flags.TryGetValue("batch", out var b) ? int.Parse(b) : 8;
        if (flags.TryGetValue("threads", out var t)) TorchSharp.torch.set_num_threads(int.Parse(t));
        using var vq = MoeFamilyTrainer.LoadVq(folder);
        using var loaded = Platform.Inference.Loading.ModelLoader.Load(folder);
        var lm = loaded.Model;
        var chat = new Platform.Multimodal.Training.DemoChat(loaded.Tokenizer, visualTokens: 1);
        var vocabulary = new Platform.Inference.Models.Moe.ImageVocabulary(lm.Config.VocabSize, vq.Config.CodebookSize, vq.Config.CodesPerImage);
        var excluded = Platform.Multimodal.World.WorldText.ImageTokens.Select(x => loaded.Tokenizer.TokenToId(x) ?? -1).ToHashSet();
        var text = Platform.Multimodal.MoeAdapter.ImageTokenInitialisation.TextEmbeddings(lm, loaded.Tokenizer.VocabSize, excluded);
        var codebook = Platform.Multimodal.MoeAdapter.ImageTokenInitialisation.ToArray(vq.codebook.embedding);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        void Log(string m) => Console.WriteLine($"[{clock.Elapsed.TotalSeconds,6:F1}s] {m}");
        var gwRows = Platform.Multimodal.MoeAdapter.ImageTokenInitialisation.Rows(Platform.Multimodal.MoeAdapter.ImageTokenInit.GromovWasserstein, vocabulary, codebook, text, 0, Log, ct);
        var curves = new Platform.Multimodal.MoeAdapter.Training.ImageTokenCurves(lm, vq, chat, vocabulary, Log);
        var result = new System.Text.Json.Nodes.JsonObject { ["steps"] = steps, ["batch"] = batch, ["text_embeddings"] = text.GetLength(0) };
        var finals = new List<(int Seed, float[] Random, float[] Gw)>();
        for (int seed = 1; seed <= seeds; seed++)
        {
            var randomRows = Platform.Multimodal.MoeAdapter.ImageTokenInitialisation.Rows(Platform.Multimodal.MoeAdapter.ImageTokenInit.Random, vocabulary, codebook, text, seed);
            // The GW run keeps the same random begin/end rows as the random run of its seed: only the code rows differ.
            var gw = (float[,])randomRows.Clone();
            for (int i = 2; i < vocabulary.NewTokens; i++) for (int j = 0; j < gw.GetLength(1); j++) gw[i, j] = gwRows[i, j];
            Log($"seed {seed}: random initialisation");
            var r = curves.Run(randomRows, seed, steps, batch, ct: ct);
            Log($"seed {seed}: GW initialisation");
            var g = curves.Run(gw, seed, steps, batch, ct: ct);
            finals.Add((seed, r, g));
            result[$"seed{seed}"] = new System.Text.Json.Nodes.JsonObject
            {
                ["random"] = new System.Text.Json.Nodes.JsonArray(r.Select(x => (System.Text.Json.Nodes.JsonNode)x).ToArray()),
                ["gw"] = new System.Text.Json.Nodes.JsonArray(g.Select(x => (System.Text.Json.Nodes.JsonNode)x).ToArray()),
            };
        }
        Console.WriteLine("| seed | random: final loss (mean of last 5 steps) | GW: final | GW: first step at or below random's final | random: same |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var (seed, r, g) in finals)
        {
            float target = r.TakeLast(5).Average();
            int First(float[] c) => Array.FindIndex(c, x => x <= target);
            Console.WriteLine($"| {seed} | {target:F4} | {g.TakeLast(5).Average():F4} | {Show(First(g))} | {Show(First(r))} |");
        }
        int early = Math.Min(10, steps);
        double Var(Func<(int, float[], float[]), float[]> pick) => Enumerable.Range(0, early).Average(i =>
        {
            var xs = finals.Select(f => (double)pick(f)[i]).ToArray();
            double mean = xs.Average();
            return xs.Average(x => (x - mean) * (x - mean));
        });
        Console.WriteLine($"loss variance across seeds, mean over the first {early} steps: random {Var(f => f.Item2):E3}, GW {Var(f => f.Item3):E3}");
        if (flags.TryGetValue("json", out var json)) File.WriteAllText(json, result.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
        return 0;
    }

    private static string Show(int step) => step < 0 ? "not reached" : step.ToString();
}
