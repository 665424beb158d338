using Platform.Multimodal.Models;
using TorchSharp.PyBridge;

namespace Platform.Multimodal.Training;

/// <summary>Writes an input-only multimodal folder (<see cref="MultimodalConfig.InputOnly"/>): the config and the
/// <see cref="VisualInput"/> weights, beside a language model's files.</summary>
public static class InputOnlyFolder
{
    public static void Write(string folder, VisualInput input)
    {
        if (!input.Config.InputOnly) throw new ArgumentException("the config of an input-only folder must say input_only", nameof(input));
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, ModelFiles.Config), input.Config.ToJson());
        input.save_safetensors(Path.Combine(folder, ModelFiles.Heads));
    }
}
