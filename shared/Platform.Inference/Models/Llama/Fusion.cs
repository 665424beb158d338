using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Inference.Models.Llama;

/// <summary>Concatenates Linear weights along the output dim and makes each Linear's weight a view into the result.</summary>
internal static class Fusion
{
    public static (Tensor Weight, Tensor? Bias) FuseRows(IReadOnlyList<Linear> linears)
    {
        var weight = cat(linears.Select(l => (Tensor)l.weight!).ToArray(), 0).DetachFromDisposeScope();
        Tensor? bias = linears[0].bias is null ? null : cat(linears.Select(l => (Tensor)l.bias!).ToArray(), 0).DetachFromDisposeScope();
        long offset = 0;
        foreach (var l in linears)
        {
            long rows = l.weight!.shape[0];
            // set_ makes the parameter share the fused storage, so the Linear stays valid for training and
            // state-dict export while memory holds each weight once.
            l.weight.set_(weight.narrow(0, offset, rows));
            if (bias is not null) l.bias!.set_(bias.narrow(0, offset, rows));
            offset += rows;
        }
        return (weight, bias);
    }

    /// <summary>The reverse: each Linear's weight (and bias) becomes a view of consecutive rows of <paramref name="fused"/>.</summary>
    public static void ViewRows(Linear fused, IReadOnlyList<Linear> parts)
    {
        using var noGrad = no_grad();
        long offset = 0;
        foreach (var l in parts)
        {
            long rows = l.weight!.shape[0];
            l.weight.set_(fused.weight!.narrow(0, offset, rows));
            if (l.bias is not null) l.bias.set_(fused.bias!.narrow(0, offset, rows));
            offset += rows;
        }
        if (offset != fused.weight!.shape[0]) throw new ArgumentException($"the parts have {offset} rows, the fused weight {fused.weight.shape[0]}");
    }
}
