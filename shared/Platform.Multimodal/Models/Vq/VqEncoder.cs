using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Multimodal.Models.Vq;

/// <summary>
/// The VQ-VAE encoder (van den Oord et al. 2017): stride-2 4x4 convolutions with ReLU from the image down to the
/// code grid (first to half the hidden channels, then the full width), then a 1x1 convolution to the code dimension.
/// image [B, 3, S, S] in [0, 1] -> z_e [B, D, G, G].
/// </summary>
public sealed class VqEncoder : nn.Module<Tensor, Tensor>
{
    public readonly ModuleList<Conv2d> down;
    public readonly Conv2d conv_out;

    public VqEncoder(VqTokenizerConfig config) : base(nameof(VqEncoder))
    {
        int c = config.HiddenChannels;
        down = new ModuleList<Conv2d>(Enumerable.Range(0, config.Downsamplings)
            .Select(i => nn.Conv2d(i == 0 ? 3 : i == 1 ? c / 2 : c, i == 0 ? c / 2 : c, 4, stride: 2, padding: 1)).ToArray());
        conv_out = nn.Conv2d(config.Downsamplings == 1 ? c / 2 : c, config.CodeDim, 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor image)
    {
        using var scope = NewDisposeScope();
        // Centred input: the pictures are mostly the dark background.
        var h = image * 2 - 1;
        foreach (var conv in down) h = nn.functional.relu(conv.forward(h));
        return conv_out.forward(h).MoveToOuterDisposeScope();
    }
}
