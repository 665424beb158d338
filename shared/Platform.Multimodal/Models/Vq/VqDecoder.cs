using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Multimodal.Models.Vq;

/// <summary>
/// The VQ-VAE decoder: a 3x3 convolution from the code vectors (so each patch sees its neighbours' codes), then
/// stride-2 4x4 transposed convolutions with ReLU back to the image, a sigmoid on the last. Every op maps to one
/// ONNX op (Conv, Relu, ConvTranspose, Sigmoid), so <see cref="Onnx.VqDecoderOnnxExporter"/> writes it by hand.
/// z_q [B, D, G, G] -> image [B, 3, S, S] in [0, 1].
/// </summary>
public sealed class VqDecoder : nn.Module<Tensor, Tensor>
{
    public readonly Conv2d conv_in;
    public readonly ModuleList<ConvTranspose2d> up;

    public VqDecoder(VqTokenizerConfig config) : base(nameof(VqDecoder))
    {
        int c = config.HiddenChannels, n = config.Downsamplings;
        conv_in = nn.Conv2d(config.CodeDim, c, 3, padding: 1);
        // Mirror of the encoder: c -> c ... -> c/2 -> 3.
        up = new ModuleList<ConvTranspose2d>(Enumerable.Range(0, n)
            .Select(i => nn.ConvTranspose2d(i == n - 1 && n > 1 ? c / 2 : c, i == n - 1 ? 3 : i == n - 2 ? c / 2 : c, 4, stride: 2, padding: 1)).ToArray());
        RegisterComponents();
    }

    public override Tensor forward(Tensor codes)
    {
        using var scope = NewDisposeScope();
        var h = nn.functional.relu(conv_in.forward(codes));
        for (int i = 0; i < up.Count; i++)
        {
            h = up[i].forward(h);
            h = i == up.Count - 1 ? h.sigmoid() : nn.functional.relu(h);
        }
        return h.MoveToOuterDisposeScope();
    }
}
