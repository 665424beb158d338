using global::MoeAdapter.Models;
using Gateway.Tests.Images;
using Platform.Inference.Models.Moe;
using Platform.Multimodal.Imaging;
using Platform.Multimodal.Onnx;
using Platform.Multimodal.World;
using static TorchSharp.torch;

namespace Gateway.Tests.MoeAdapter;

/// <summary>The MoE worker's picture decoding: image tokens -> codes -> the folder's ONNX VQ decoder -> PNG.</summary>
public sealed class PictureDecoderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("moe-pictures-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Decode_ImageTokensOfAnEncodedPicture_RoundTripToTheTorchDecodersPixels()
    {
        using var vq = ImageTokenFolder.RandomVq(seed: 4);
        var path = Path.Combine(_dir, "vq_decoder.onnx");
        VqDecoderOnnxExporter.Export(vq, path);
        var (_, _, rgb) = ImageCodec.DecodeRgb(WorldImages.Png(WorldImages.Object("red", Shape.Circle, ObjectSize.Large, 1, 1)));
        long[] codes;
        float[] expected;
        using (no_grad())
        {
            using var image = tensor(SceneRenderer.ToPlanar(rgb), [1, 3, 64, 64]);
            using var encoded = vq.Encode(image);
            codes = encoded.data<long>().ToArray();
            using var decoded = vq.Decode(encoded);
            expected = decoded.data<float>().ToArray();
        }
        // The tokens the model would generate for this picture, read back as the engine reports them.
        var vocabulary = new ImageVocabulary(ImageTokenFolder.BaseVocabulary, ImageTokenFolder.Codebook, ImageTokenFolder.Grid * ImageTokenFolder.Grid);
        var run = vocabulary.Picture(codes);
        Assert.Equal((vocabulary.BeginOfImage, vocabulary.EndOfImage), (run[0], run[^1]));
        var generated = run[1..^1].Select(vocabulary.CodeOf).ToArray();
        Assert.Equal(codes.Select(c => (int)c), generated);

        using var decoder = PictureDecoder.Open(path, ImageTokenFolder.Codebook, ImageTokenFolder.Grid * ImageTokenFolder.Grid);
        var picture = decoder.Decode(ImageTokenFolder.Grid, generated);

        var (width, height, pixels) = ImageCodec.DecodeRgb(picture.Png);
        Assert.Equal((64, 64, 64, 64), (width, height, picture.Width, picture.Height));
        Assert.Equal(generated, picture.Codes);
        var reference = SceneRenderer.FromPlanar(expected);
        Assert.True(reference.Max() - reference.Min() > 20, "the torch decoder's picture is flat: the comparison would prove nothing");
        // ONNX Runtime and torch agree to ~1e-6; 8-bit rounding may then differ by one step.
        Assert.True(pixels.Zip(reference).All(p => Math.Abs(p.First - p.Second) <= 1), "the PNG differs from the torch decoder's picture");
    }

    [Fact]
    public void Open_DecoderOfAnotherGrid_ThrowsNamingBothSizes()
    {
        using var vq = ImageTokenFolder.RandomVq(seed: 4);
        var path = Path.Combine(_dir, "vq_decoder.onnx");
        VqDecoderOnnxExporter.Export(vq, path);
        var e = Assert.Throws<InvalidDataException>(() => PictureDecoder.Open(path, ImageTokenFolder.Codebook, 64));
        Assert.Contains("2x2 codes", e.Message);
        Assert.Contains("64 codes", e.Message);
    }

    [Fact]
    public void Open_MissingDecoder_ThrowsNamingTheFile()
    {
        var path = Path.Combine(_dir, "vq_decoder.onnx");
        var e = Assert.Throws<FileNotFoundException>(() => PictureDecoder.Open(path, 16, 4));
        Assert.Contains(path, e.Message);
    }
}
