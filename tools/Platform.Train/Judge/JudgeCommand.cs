namespace Platform.Train.Judge;

/// <summary>The <c>judge</c> command: trains models/demo-judge (see <see cref="DemoJudgeTrainer"/>).</summary>
public static class JudgeCommand
{
    public static int Train(IReadOnlyDictionary<string, string> flags, CancellationToken ct)
    {
        var options = new JudgeTrainOptions { OutputFolder = flags.GetValueOrDefault("out") ?? "models/demo-judge" };
        if (flags.TryGetValue("steps", out var s)) options = options with { Steps = int.Parse(s) };
        if (flags.TryGetValue("seed", out var seed)) options = options with { Seed = int.Parse(seed) };
        if (flags.TryGetValue("threads", out var t)) options = options with { Threads = int.Parse(t) };
        if (flags.TryGetValue("batch", out var b)) options = options with { Batch = int.Parse(b) };
        if (flags.TryGetValue("minutes", out var m)) options = options with { Minutes = double.Parse(m, System.Globalization.CultureInfo.InvariantCulture) };
        if (flags.TryGetValue("hidden", out var h)) options = options with { Hidden = int.Parse(h), Intermediate = 2 * int.Parse(h) };
        if (flags.TryGetValue("layers", out var l)) options = options with { Layers = int.Parse(l) };
        if (flags.TryGetValue("lr", out var lr)) options = options with { LearningRate = double.Parse(lr, System.Globalization.CultureInfo.InvariantCulture) };
        if (flags.TryGetValue("family", out var f)) options = options with { FamilyFolder = f };
        if (flags.TryGetValue("decoder-share", out var ds)) options = options with { DecoderShare = double.Parse(ds, System.Globalization.CultureInfo.InvariantCulture) };
        if (flags.TryGetValue("intermediate", out var im)) options = options with { Intermediate = int.Parse(im) };
        if (flags.ContainsKey("resume")) options = options with { Resume = true };
        if (flags.TryGetValue("data-seed", out var dseed)) options = options with { DataSeed = int.Parse(dseed) };
        new DemoJudgeTrainer(options, Console.WriteLine).Run(ct);
        return 0;
    }
}
