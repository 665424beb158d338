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
        if (flags.TryGetValue("seed", out var seed)) options = options with { Seed = int.Parse(seed) };
        if (flags.TryGetValue("threads", out var threads)) options = options with { Threads = int.Parse(threads) };
        var stages = flags.TryGetValue("stages", out var list) ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : null;
        new MoeFamilyTrainer(options, Console.WriteLine).Run(ct, stages);
        return 0;
    }
}

/// <summary>"moe-eval": the MoE family's figures on a trained folder: VQ reconstructions through the ONNX decoder
/// (the served path) read back by the pixel checker, per split, and the ONNX-vs-torch difference.</summary>
internal static class MoeEvalCommand
{
    public static int Run(IReadOnlyDictionary<string, string> flags)
    {
        var folder = flags.GetValueOrDefault("model") ?? "models/demo-moe";
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
        using var codes = TorchSharp.torch.randint(vq.Config.CodebookSize, [16, vq.Config.GridSize, vq.Config.GridSize], dtype: TorchSharp.torch.int64);
        float[] torchImages;
        using (TorchSharp.torch.no_grad()) torchImages = vq.Decode(codes).data<float>().ToArray();
        var onnxImages = onnx.Run(codes.data<long>().ToArray(), 16);
        Console.WriteLine($"max |ONNX Runtime - torch| on 16 random code grids: {torchImages.Zip(onnxImages).Max(p => Math.Abs(p.First - p.Second)):E2}");
        return 0;
    }
}
