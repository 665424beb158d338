namespace Platform.Multimodal.Tests.MoeAdapter.Training;

/// <summary>The shipped MoE adapter family: models/demo-moe (or PLATFORM_DEMO_MOE_MODEL).</summary>
public static class DemoMoeFolder
{
    public static string Find([System.Runtime.CompilerServices.CallerFilePath] string sourceFile = "")
    {
        if (Environment.GetEnvironmentVariable("PLATFORM_DEMO_MOE_MODEL") is { Length: > 0 } env) return env;
        foreach (var start in new[] { Path.GetDirectoryName(sourceFile)!, AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Platform.sln"))) return Path.Combine(dir.FullName, "models", "demo-moe");
        throw new DirectoryNotFoundException("Platform.sln not found above the test sources or output; set PLATFORM_DEMO_MOE_MODEL.");
    }
}
