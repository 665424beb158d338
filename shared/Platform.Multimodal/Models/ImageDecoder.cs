using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Multimodal.Models;

/// <summary>
/// The image decoder: a layered renderer. Each conditioning row (one object) goes through a mask branch
/// (Linear, Linear to an (S/2)x(S/2)x8 map, one stride-2 transposed convolution to the SxS alpha; most of the capacity
/// sits in the Linear layers because a first version with three transposed convolutions from 4x4 learned
/// positions far too slowly on 2 cores) and a colour branch (Linear to
/// RGB); the layers are composited over a learned background. Deterministic (no diffusion) because the demo
/// world's image is a function of its attributes; every op maps to one ONNX op (Gemm, Relu, Reshape,
/// ConvTranspose, Sigmoid, Gather, Sub, Mul, Add) so <see cref="Onnx.DecoderOnnxExporter"/> writes it by hand.
/// </summary>
public sealed class ImageDecoder : nn.Module<Tensor, Tensor>
{
    public const int BaseChannels = 8, Hidden = 256;
    public readonly Linear mask_fc1, mask_fc2, colour_fc;
    public readonly ConvTranspose2d mask_up;
    public readonly Parameter background;
    private readonly MultimodalConfig _config;

    public ImageDecoder(MultimodalConfig config) : base(nameof(ImageDecoder))
    {
        if (config.ImageSize % 2 != 0) throw new ArgumentException($"the decoder upsamples its half-size map once: image_size must be even, got {config.ImageSize}");
        _config = config;
        int baseSize = BaseSize(config);
        mask_fc1 = nn.Linear(config.ConditionDim, Hidden);
        mask_fc2 = nn.Linear(Hidden, BaseChannels * baseSize * baseSize);
        mask_up = nn.ConvTranspose2d(BaseChannels, 1, 4, stride: 2, padding: 1);
        colour_fc = nn.Linear(config.ConditionDim, 3);
        background = nn.Parameter(zeros(3));
        RegisterComponents();
    }

    public MultimodalConfig Config => _config;

    /// <summary>Side of the map the mask branch's Linear layer writes: half the image.</summary>
    public static int BaseSize(MultimodalConfig config) => config.ImageSize / 2;

    /// <summary>conditioning [B, slots, dim] -> image [B, 3, S, S] in [0, 1].</summary>
    public override Tensor forward(Tensor conditioning) => Forward(conditioning).Image;

    /// <summary>Image plus each slot's alpha logits [B, slots, S, S] (supervised with the object masks in training).</summary>
    public (Tensor Image, Tensor AlphaLogits) Forward(Tensor conditioning)
    {
        using var scope = NewDisposeScope();
        long b = conditioning.shape[0], q = conditioning.shape[1];
        int size = _config.ImageSize;
        var flat = conditioning.reshape(-1, _config.ConditionDim);
        var h = nn.functional.relu(mask_fc2.forward(nn.functional.relu(mask_fc1.forward(flat))));
        h = h.reshape(-1, BaseChannels, BaseSize(_config), BaseSize(_config));
        var logits = mask_up.forward(h).reshape(b, q, 1, size, size);
        var alpha = logits.sigmoid();
        var colour = colour_fc.forward(flat).sigmoid().reshape(b, q, 3, 1, 1);
        var image = background.sigmoid().reshape(1, 3, 1, 1);
        // Painter's algorithm, slot by slot: image += alpha * (colour - image).
        for (long s = 0; s < q; s++)
            image = image + alpha[.., s] * (colour[.., s] - image);
        return (image.MoveToOuterDisposeScope(), logits.reshape(b, q, size, size).MoveToOuterDisposeScope());
    }
}
