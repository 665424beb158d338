using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Platform.Multimodal.Onnx;

/// <summary>Runs the exported image decoder with ONNX Runtime. Provider "cpu" (default) or "cuda[:N]".</summary>
public sealed class OnnxImageDecoder : IDisposable
{
    private readonly InferenceSession _session;

    /// <param name="threads">ONNX Runtime intra-op threads (<see cref="OnnxSessionSettings.Create"/>; 0: one per
    /// physical core, 1: each run on the calling thread).</param>
    public OnnxImageDecoder(string path, string device = "cpu", int threads = 1)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: ONNX decoder not found", path);
        Path = path;
        using var options = OnnxSessionSettings.Create(threads);
        var d = device.Trim().ToLowerInvariant();
        if (d.StartsWith("cuda", StringComparison.Ordinal))
        {
            int id = d.Length > 5 && int.TryParse(d.AsSpan(5), out var n) ? n : 0;
            try { options.AppendExecutionProvider_CUDA(id); }
            catch (OnnxRuntimeException e)
            {
                throw new InvalidOperationException(
                    $"{path}: the CUDA execution provider of ONNX Runtime could not be loaded for device '{device}' " +
                    $"(it needs the CUDA and cuDNN libraries of its build on the library path); use device 'cpu' or install them. {e.Message}", e);
            }
        }
        else if (d != "cpu") throw new ArgumentException($"unknown ONNX Runtime device '{device}' (use 'cpu' or 'cuda[:N]')", nameof(device));
        try { _session = new InferenceSession(path, options); }
        catch (OnnxRuntimeException e) { throw new InvalidDataException($"{path}: not a loadable ONNX model: {e.Message}", e); }
        var input = _session.InputMetadata[DecoderOnnxExporter.InputName];
        Slots = input.Dimensions[1];
        Dim = input.Dimensions[2];
        ImageSize = _session.OutputMetadata[DecoderOnnxExporter.OutputName].Dimensions[3];
    }

    public string Path { get; }
    public int Slots { get; }
    public int Dim { get; }
    public int ImageSize { get; }

    /// <summary>conditioning [batch, slots, dim] row-major -> images [batch, 3, S, S] planar floats in [0, 1].</summary>
    public float[] Run(float[] conditioning, int batch)
    {
        if (conditioning.Length != batch * Slots * Dim)
            throw new ArgumentException($"conditioning has {conditioning.Length} floats, expected {batch}x{Slots}x{Dim}", nameof(conditioning));
        var input = new DenseTensor<float>(conditioning, [batch, Slots, Dim]);
        using var results = _session.Run([NamedOnnxValue.CreateFromTensor(DecoderOnnxExporter.InputName, input)]);
        return results.First(r => r.Name == DecoderOnnxExporter.OutputName).AsEnumerable<float>().ToArray();
    }

    public void Dispose() => _session.Dispose();
}
