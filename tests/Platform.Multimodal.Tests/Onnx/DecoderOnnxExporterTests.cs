using Platform.Multimodal.Models;
using Platform.Multimodal.Onnx;
using static TorchSharp.torch;

namespace Platform.Multimodal.Tests.Onnx;

public sealed class DecoderOnnxExporterTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("demo-onnx-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void Export_RandomDecoder_OnnxRuntimeMatchesTorchSharp()
    {
        manual_seed(3);
        var config = new MultimodalConfig();
        using var decoder = new ImageDecoder(config);
        using (no_grad())
            foreach (var p in decoder.parameters()) p.add_(randn_like(p) * 0.2); // move away from init so every weight matters
        var path = Path.Combine(_folder, "decoder.onnx");
        DecoderOnnxExporter.Export(decoder, path);

        using var input = randn(5, config.ConditionSlots, config.ConditionDim);
        float[] expected;
        using (no_grad()) expected = decoder.forward(input).data<float>().ToArray();
        using var session = new OnnxImageDecoder(path);
        var actual = session.Run(input.data<float>().ToArray(), 5);

        Assert.Equal(5 * 3 * config.ImageSize * config.ImageSize, actual.Length);
        Assert.Equal(expected.Length, actual.Length);
        double maxDiff = expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(maxDiff < 1e-5, $"max |onnx - torch| = {maxDiff}");
        Assert.True(expected.Max() - expected.Min() > 0.1, "decoder output is flat: the comparison would prove nothing");
    }

    [Fact]
    public void Run_OneThreadOrOnePerCore_SameImages()
    {
        manual_seed(4);
        var config = new MultimodalConfig();
        using var decoder = new ImageDecoder(config);
        using (no_grad())
            foreach (var p in decoder.parameters()) p.add_(randn_like(p) * 0.2);
        var path = Path.Combine(_folder, "decoder.onnx");
        DecoderOnnxExporter.Export(decoder, path);
        using var input = randn(6, config.ConditionSlots, config.ConditionDim);
        var conditioning = input.data<float>().ToArray();

        using var single = new OnnxImageDecoder(path, "cpu", threads: 1);
        using var perCore = new OnnxImageDecoder(path, "cpu", threads: 0);
        var one = single.Run(conditioning, 6);
        var many = perCore.Run(conditioning, 6);

        double maxDiff = one.Zip(many).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(maxDiff < 1e-6, $"max |1 thread - 1 per core| = {maxDiff}");
        Assert.True(one.Max() - one.Min() > 0.1, "decoder output is flat: the comparison would prove nothing");
        Assert.Throws<ArgumentOutOfRangeException>(() => new OnnxImageDecoder(path, "cpu", threads: -1));
    }

    [Fact]
    public void Run_WrongInputLength_ThrowsWithShapes()
    {
        using var decoder = new ImageDecoder(new MultimodalConfig());
        var path = Path.Combine(_folder, "decoder.onnx");
        DecoderOnnxExporter.Export(decoder, path);
        using var session = new OnnxImageDecoder(path);
        var e = Assert.Throws<ArgumentException>(() => session.Run(new float[10], 1));
        Assert.Contains("1x2x64", e.Message);
    }

    [Fact]
    public void Constructor_CudaDeviceWithoutCudaLibraries_ThrowsClearError()
    {
        using var decoder = new ImageDecoder(new MultimodalConfig());
        var path = Path.Combine(_folder, "decoder.onnx");
        DecoderOnnxExporter.Export(decoder, path);
        // On a machine with CUDA 13 libraries this succeeds; here (no GPU) it must fail with a message naming the provider.
        try
        {
            using var session = new OnnxImageDecoder(path, "cuda");
        }
        catch (InvalidOperationException e)
        {
            Assert.Contains("CUDA execution provider", e.Message);
            Assert.Contains(path, e.Message);
        }
    }

    [Fact]
    public void Constructor_UnknownDevice_Throws()
    {
        using var decoder = new ImageDecoder(new MultimodalConfig());
        var path = Path.Combine(_folder, "decoder.onnx");
        DecoderOnnxExporter.Export(decoder, path);
        Assert.Throws<ArgumentException>(() => new OnnxImageDecoder(path, "tpu"));
    }

    [Fact]
    public void Constructor_NotAnOnnxFile_ThrowsNamingFile()
    {
        var path = Path.Combine(_folder, "bad.onnx");
        File.WriteAllText(path, "not a model");
        var e = Assert.Throws<InvalidDataException>(() => new OnnxImageDecoder(path));
        Assert.Contains(path, e.Message);
    }
}
