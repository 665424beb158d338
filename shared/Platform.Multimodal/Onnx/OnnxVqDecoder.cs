using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Platform.Multimodal.Onnx;

/// <summary>Runs the exported VQ decoder (<see cref="VqDecoderOnnxExporter"/>) with ONNX Runtime on the CPU:
/// image tokens [batch, G, G] -> pictures [batch, 3, S, S]. Codes outside the codebook are refused before the run.</summary>
public sealed class OnnxVqDecoder : IDisposable
{
    private readonly InferenceSession _session;

    public OnnxVqDecoder(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: ONNX VQ decoder not found", path);
        Path = path;
        // One intra-op thread, on the caller's: pictures decode one at a time inside a serving worker, beside the
        // engine's threads (OnnxSessionSettings says why idle workers must not spin either).
        using var options = OnnxSessionSettings.Create(1);
        try { _session = new InferenceSession(path, options); }
        catch (OnnxRuntimeException e) { throw new InvalidDataException($"{path}: not a loadable ONNX model: {e.Message}", e); }
        if (!_session.InputMetadata.TryGetValue(VqDecoderOnnxExporter.InputName, out var input) || !_session.OutputMetadata.ContainsKey(VqDecoderOnnxExporter.OutputName))
        {
            _session.Dispose();
            throw new InvalidDataException($"{path}: not a VQ decoder (expects input '{VqDecoderOnnxExporter.InputName}' and output '{VqDecoderOnnxExporter.OutputName}')");
        }
        GridSize = input.Dimensions[1];
        ImageSize = _session.OutputMetadata[VqDecoderOnnxExporter.OutputName].Dimensions[3];
        CodebookSize = (int)ReadCodebookSize(path);
    }

    public string Path { get; }
    public int GridSize { get; }
    public int ImageSize { get; }
    public int CodebookSize { get; }

    /// <summary>codes [batch, G, G] row-major -> images [batch, 3, S, S] planar floats in [0, 1].</summary>
    public float[] Run(long[] codes, int batch)
    {
        if (batch <= 0) throw new ArgumentOutOfRangeException(nameof(batch), "batch must be positive");
        if (codes.Length != batch * GridSize * GridSize)
            throw new ArgumentException($"codes has {codes.Length} entries, expected {batch}x{GridSize}x{GridSize}", nameof(codes));
        for (int i = 0; i < codes.Length; i++)
            if ((ulong)codes[i] >= (ulong)CodebookSize)
                throw new ArgumentOutOfRangeException(nameof(codes), $"code {codes[i]} at {i} is outside the codebook (0..{CodebookSize - 1})");
        var input = new DenseTensor<long>(codes, [batch, GridSize, GridSize]);
        using var results = _session.Run([NamedOnnxValue.CreateFromTensor(VqDecoderOnnxExporter.InputName, input)]);
        return results.First(r => r.Name == VqDecoderOnnxExporter.OutputName).AsEnumerable<float>().ToArray();
    }

    // ONNX Runtime's Gather does not check indices on every provider: the codebook's row count comes from the graph.
    private static long ReadCodebookSize(string path)
    {
        using var file = File.OpenRead(path);
        var model = global::Onnx.ModelProto.Parser.ParseFrom(file);
        var codebook = model.Graph.Initializer.FirstOrDefault(t => t.Name == "codebook.embedding")
            ?? throw new InvalidDataException($"{path}: no codebook.embedding initializer");
        return codebook.Dims[0];
    }

    public void Dispose() => _session.Dispose();
}
