using Platform.ServiceDefaults.Models;

namespace Gateway.Tests.ServiceDefaults;

public class ModelPathResolverTests
{
    [Fact]
    public void Resolve_MissingFolder_ThrowsNamingModelKeyAndPlacesLooked()
    {
        var root = Directory.CreateTempSubdirectory("resolver-").FullName;
        var ex = Assert.Throws<DirectoryNotFoundException>(() => ModelPathResolver.Resolve("m", "models/nowhere", root));
        Assert.Contains("Model 'm'", ex.Message);
        Assert.Contains("Models:m:Path", ex.Message);
        Assert.Contains(Path.Combine(root, "models/nowhere"), ex.Message);
    }

    [Fact]
    public void Resolve_RelativePath_FallsBackToTheRepositoryRoot()
    {
        var repo = Directory.CreateTempSubdirectory("repo-").FullName;
        File.WriteAllText(Path.Combine(repo, "Platform.sln"), "");
        Directory.CreateDirectory(Path.Combine(repo, "models", "x"));
        var contentRoot = Directory.CreateDirectory(Path.Combine(repo, "services", "Svc")).FullName;
        Assert.Equal(Path.Combine(repo, "models", "x"), ModelPathResolver.Resolve("x", "models/x", contentRoot));
    }

    [Fact]
    public void Resolve_GgufFile_ReturnsTheFile()
    {
        var root = Directory.CreateTempSubdirectory("resolver-gguf-").FullName;
        var file = Path.Combine(root, "model.Q4_0.gguf");
        File.WriteAllBytes(file, [0x47, 0x47, 0x55, 0x46]);
        Assert.Equal(file, ModelPathResolver.Resolve("g", file, "/"));
        Assert.Equal(file, ModelPathResolver.Resolve("g", "model.Q4_0.gguf", root));
        Assert.Throws<DirectoryNotFoundException>(() => ModelPathResolver.Resolve("g", Path.Combine(root, "other.gguf"), "/"));
    }

    [Fact]
    public void Resolve_EmptyPath_ThrowsNamingTheKey()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => ModelPathResolver.Resolve("m", "", "/"));
        Assert.Contains("Models:m:Path is not set", ex.Message);
    }
}
