using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Platform.Inference.Tests.Chat.Jinja;

/// <summary>
/// Runs @huggingface/jinja (pinned in tools/jinja-reference/package-lock.json, installed by
/// scripts/jinja-reference.sh, which scripts/test.sh calls) under node on a batch of cases.
/// A missing node or package fails the test with the command that installs it: the comparison is the point.
/// </summary>
public static class JinjaReference
{
    public static string RepoRoot { get; } = FindRoot();
    public static string TestData => Path.Combine(RepoRoot, "tests", "Platform.Inference.Tests", "Chat", "Jinja", "TestData");
    private static string Tool => Path.Combine(RepoRoot, "tools", "jinja-reference");

    public sealed record Case(string Id, string Template, JsonObject Context);
    public sealed record Result(string Id, string? Output, string? Error);

    public static IReadOnlyDictionary<string, Result> Render(IReadOnlyList<Case> cases)
    {
        if (!File.Exists(Path.Combine(Tool, "node_modules", "@huggingface", "jinja", "package.json")))
            throw new InvalidOperationException("@huggingface/jinja is not installed: run scripts/jinja-reference.sh install (scripts/test.sh does)");
        var input = new JsonArray(cases.Select(c => (JsonNode)new JsonObject
        {
            ["id"] = c.Id, ["template"] = c.Template, ["context"] = c.Context.DeepClone(),
        }).ToArray());
        string file = Path.Combine(Path.GetTempPath(), $"jinja-cases-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, input.ToJsonString());
        try
        {
            var psi = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Tool };
            psi.ArgumentList.Add(Path.Combine(Tool, "render.mjs"));
            psi.ArgumentList.Add(file);
            using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start node");
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(TimeSpan.FromMinutes(2))) { p.Kill(true); throw new TimeoutException("node render.mjs did not finish in 2 minutes"); }
            if (p.ExitCode != 0) throw new InvalidOperationException($"node render.mjs failed ({p.ExitCode}): {stderr.Result}");
            var results = JsonSerializer.Deserialize<List<Result>>(stdout.Result, new JsonSerializerOptions { PropertyNameCaseInsensitive = true })!;
            return results.ToDictionary(r => r.Id);
        }
        finally { File.Delete(file); }
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Platform.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("Platform.sln not found above the test output");
    }
}
