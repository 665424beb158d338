using System.Text.Json;
using Platform.Multimodal.World;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Platform.Multimodal.Training;

/// <summary>The image gallery that GILL's retrieval chooses from: RGB images, their retrieval embeddings and captions.</summary>
public static class Gallery
{
    /// <summary>Every single-object scene of the world, without jitter, in a fixed order.</summary>
    public static IReadOnlyList<Scene> Scenes()
    {
        var list = new List<Scene>();
        for (int c = 0; c < Palette.Count; c++)
            foreach (var shape in Enum.GetValues<Shape>())
                foreach (var size in Enum.GetValues<ObjectSize>())
                    for (int cell = 0; cell < 9; cell++)
                        list.Add(new Scene([new SceneObject(c, shape, size, cell / 3, cell % 3)]));
        return list;
    }

    public static void Save(string folder, IReadOnlyList<Scene> scenes, Tensor embeddings)
    {
        int s = WorldSpec.ImageSize;
        var rgb = new byte[scenes.Count * s * s * 3];
        for (int i = 0; i < scenes.Count; i++) SceneRenderer.Render(scenes[i]).CopyTo(rgb, i * s * s * 3);
        using var images = tensor(rgb, [scenes.Count, s, s, 3]);
        Safetensors.SaveStateDict(Path.Combine(folder, ModelFiles.Gallery), new Dictionary<string, Tensor> { ["images"] = images, ["embeddings"] = embeddings });
        File.WriteAllText(Path.Combine(folder, ModelFiles.GalleryCaptions), JsonSerializer.Serialize(scenes.Select(x => x.Caption()).ToArray()));
    }
}
