using Platform.Contracts.Images;
using Platform.Multimodal.Onnx;
using Platform.Multimodal.World;

namespace MoeAdapter.Models;

/// <summary>
/// Turns the codes of a picture the model drew into a PNG with the model folder's VQ decoder (vq_decoder.onnx, ONNX
/// Runtime on the CPU): codes [1, G, G] -> RGB [3, S, S] in 0..1 -> 8-bit PNG. The decoder must match the model's image
/// vocabulary (grid and codebook), checked when the model loads, so a picture never fails to decode mid-answer.
/// </summary>
public sealed class PictureDecoder : IDisposable
{
    private readonly OnnxVqDecoder _vq;

    private PictureDecoder(OnnxVqDecoder vq) => _vq = vq;

    public int GridSize => _vq.GridSize;
    public int CodebookSize => _vq.CodebookSize;
    public int ImageSize => _vq.ImageSize;

    /// <summary>Opens <paramref name="path"/> and checks it decodes pictures of <paramref name="codesPerImage"/> codes
    /// from a codebook of <paramref name="codebookSize"/>; errors name the file and both sizes.</summary>
    public static PictureDecoder Open(string path, int codebookSize, int codesPerImage)
    {
        var vq = new OnnxVqDecoder(path);
        if (vq.CodebookSize != codebookSize || vq.GridSize * vq.GridSize != codesPerImage)
        {
            var (grid, codebook) = (vq.GridSize, vq.CodebookSize);
            vq.Dispose();
            throw new InvalidDataException($"{path}: the VQ decoder reads {grid}x{grid} codes from a codebook of {codebook}, but the " +
                $"model's image adapter draws {codesPerImage} codes from a codebook of {codebookSize}.");
        }
        return new PictureDecoder(vq);
    }

    /// <summary>One picture: <paramref name="codes"/> in raster order, each 0..codebook-1.</summary>
    public DecodedPicture Decode(int gridSize, IReadOnlyList<int> codes)
    {
        if (gridSize != _vq.GridSize) throw new ArgumentException($"a {gridSize}x{gridSize} picture for a {_vq.GridSize}x{_vq.GridSize} decoder", nameof(gridSize));
        var pixels = _vq.Run(codes.Select(c => (long)c).ToArray(), 1);
        var rgb = SceneRenderer.FromPlanar(pixels);
        var png = Platform.Multimodal.Imaging.ImageCodec.EncodePng(rgb, _vq.ImageSize, _vq.ImageSize);
        return new DecodedPicture(png, _vq.ImageSize, _vq.ImageSize, gridSize, codes.ToArray());
    }

    public void Dispose() => _vq.Dispose();
}
