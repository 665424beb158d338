namespace Platform.Train.Judge;

/// <summary>The <c>judge-eval</c> command (see <see cref="JudgeEvaluator"/>); <c>--media text,image,caption</c>.</summary>
public static class JudgeEvalCommand
{
    public static int Run(IReadOnlyDictionary<string, string> flags, CancellationToken ct)
    {
        var media = (flags.GetValueOrDefault("media") ?? "text,image,caption").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(m => Enum.Parse<JudgeMedium>(m, ignoreCase: true)).ToList();
        return new JudgeEvaluator(new Uri(flags.GetValueOrDefault("url") ?? "http://127.0.0.1:5080"), flags.GetValueOrDefault("model") ?? "demo-judge",
            int.Parse(flags.GetValueOrDefault("pairs") ?? "100"), int.Parse(flags.GetValueOrDefault("ratings") ?? "100"), media,
            int.Parse(flags.GetValueOrDefault("concurrency") ?? "1"), Console.WriteLine)
            .RunAsync(ct).GetAwaiter().GetResult();
    }
}
