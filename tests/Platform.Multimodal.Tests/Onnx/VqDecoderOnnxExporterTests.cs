using Platform.Multimodal.Models.Vq;
using Platform.Multimodal.Onnx;
using static TorchSharp.torch;

namespace Platform.Multimodal.Tests.Onnx;

public sealed class VqDecoderOnnxExporterTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("vq-onnx-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static VqTokenizer RandomTokenizer(VqTokenizerConfig config)
    {
        manual_seed(5);
        var vq = new VqTokenizer(config);
        using (no_grad())
        {
            foreach (var p in vq.parameters()) p.add_(randn_like(p) * 0.2); // move away from init so every weight matters
            vq.codebook.embedding.copy_(randn_like(vq.codebook.embedding));
        }
        vq.eval();
        return vq;
    }

    [Theory]
    [InlineData(8, 3)]
    [InlineData(16, 2)]
    public void Export_RandomTokenizer_OnnxRuntimeMatchesTorchDecoder(int grid, int batch)
    {
        var config = new VqTokenizerConfig { GridSize = grid, CodebookSize = 64, CodeDim = 16, HiddenChannels = 16 };
        using var vq = RandomTokenizer(config);
        var path = Path.Combine(_folder, "vq_decoder.onnx");
        VqDecoderOnnxExporter.Export(vq, path);

        using var codes = randint(config.CodebookSize, [batch, grid, grid], dtype: int64);
        float[] expected;
        using (no_grad()) expected = vq.Decode(codes).data<float>().ToArray();
        using var session = new OnnxVqDecoder(path);
        var actual = session.Run(codes.data<long>().ToArray(), batch);

        Assert.Equal((grid, 64, 64), (session.GridSize, session.ImageSize, session.CodebookSize));
        Assert.Equal(batch * 3 * 64 * 64, actual.Length);
        double maxDiff = expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(maxDiff < 1e-5, $"max |onnx - torch| = {maxDiff}");
        Assert.True(expected.Max() - expected.Min() > 0.1, "decoder output is flat: the comparison would prove nothing");
    }

    [Fact]
    public void Run_CodeOutsideCodebook_ThrowsNamingIt()
    {
        using var vq = RandomTokenizer(new VqTokenizerConfig { CodebookSize = 32, CodeDim = 8, HiddenChannels = 8 });
        var path = Path.Combine(_folder, "vq_decoder.onnx");
        VqDecoderOnnxExporter.Export(vq, path);
        using var session = new OnnxVqDecoder(path);
        var codes = new long[64];
        codes[5] = 32;
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => session.Run(codes, 1));
        Assert.Contains("code 32", e.Message);
        codes[5] = -1;
        Assert.Throws<ArgumentOutOfRangeException>(() => session.Run(codes, 1));
        Assert.Throws<ArgumentException>(() => session.Run(new long[10], 1));
    }

    [Fact]
    public void Constructor_GillDecoderFile_ThrowsNotAVqDecoder()
    {
        var path = Path.Combine(_folder, "decoder.onnx");
        using (var decoder = new Platform.Multimodal.Models.ImageDecoder(new Platform.Multimodal.Models.MultimodalConfig()))
            DecoderOnnxExporter.Export(decoder, path);
        var e = Assert.Throws<InvalidDataException>(() => new OnnxVqDecoder(path));
        Assert.Contains("not a VQ decoder", e.Message);
    }
}
