namespace Platform.ServiceDefaults.Models;

/// <summary>
/// Resolves a registry path: absolute as given; relative against the content root, then against the repository root
/// (the nearest folder above the content root or the program's folder that holds Platform.sln). The registry's one
/// path rule: the text worker and the image service both resolve Models:{name}:Path with it.
/// </summary>
public static class ModelPathResolver
{
    public static string Resolve(string modelName, string path, string contentRoot)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new InvalidOperationException($"Model '{modelName}': Models:{modelName}:Path is not set.");
        if (System.IO.Path.IsPathRooted(path))
            return Exists(path) ? path
                : throw new DirectoryNotFoundException($"Model '{modelName}': folder '{path}' (Models:{modelName}:Path) does not exist.");

        var candidates = new List<string> { System.IO.Path.GetFullPath(System.IO.Path.Combine(contentRoot, path)) };
        foreach (var start in new[] { contentRoot, AppContext.BaseDirectory })
            if (FindRepositoryRoot(start) is { } root)
                candidates.Add(System.IO.Path.GetFullPath(System.IO.Path.Combine(root, path)));
        foreach (var c in candidates.Distinct())
            if (Exists(c)) return c;
        throw new DirectoryNotFoundException(
            $"Model '{modelName}': folder '{path}' (Models:{modelName}:Path) was not found; looked in {string.Join(", ", candidates.Distinct())}.");
    }

    /// <summary>A model is a Hugging Face folder or a GGUF file.</summary>
    private static bool Exists(string path) =>
        Directory.Exists(path) || (path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) && File.Exists(path));

    public static string? FindRepositoryRoot(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Platform.sln"))) return dir.FullName;
        return null;
    }
}
