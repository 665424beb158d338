using Platform.Multimodal.World;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Multimodal.Models;

/// <summary>
/// The decoder's "text encoder": turns a scene's objects into the conditioning [B, slots, dim] the image decoder
/// is trained on, as Stable Diffusion's CLIP text encoder does for GILL. Each slot is the sum of learned
/// embeddings of the object's attributes; a missing object uses each table's last ("none") row. GILL's mapper
/// regresses the text encoder's output with an MSE loss (its eq. 3); here the mapper classifies each attribute from
/// the language model's [IMG] states (cross entropy, <see cref="AttributeLoss"/>, plus a small conditioning MSE in
/// the GILL-heads stage) and <see cref="FromLogits"/> turns its distributions into conditioning through these tables.
/// </summary>
public sealed class ConditionEncoder : nn.Module<Tensor, Tensor>
{
    public readonly Embedding colour_embed, shape_embed, size_embed, row_embed, column_embed;
    public readonly Parameter slot_embed;

    public ConditionEncoder(MultimodalConfig config) : base(nameof(ConditionEncoder))
    {
        int d = config.ConditionDim;
        colour_embed = nn.Embedding(Palette.Count + 1, d);
        shape_embed = nn.Embedding(4, d);
        size_embed = nn.Embedding(3, d);
        row_embed = nn.Embedding(4, d);
        column_embed = nn.Embedding(4, d);
        slot_embed = nn.Parameter(zeros(config.ConditionSlots, d));
        RegisterComponents();
    }

    /// <summary>Number of values of each attribute, in the order of <see cref="Attributes"/> (colour, shape, size,
    /// row, column), each with a trailing "none" value for an empty slot.</summary>
    public static readonly int[] GroupSizes = [Palette.Count + 1, 4, 3, 4, 4];

    /// <summary>Width of the concatenated per-attribute logits that the visual encoder and the mapper predict.</summary>
    public static int LogitWidth => GroupSizes.Sum();

    /// <summary>Splits [.., LogitWidth] logits into one tensor per attribute.</summary>
    public static Tensor[] SplitGroups(Tensor logits) => logits.split(GroupSizes.Select(g => (long)g).ToArray(), -1);

    /// <summary>
    /// Conditioning from per-attribute logits [B, slots, LogitWidth]: each attribute's softmax weights its embedding
    /// table, and the slot is their sum, exactly as <see cref="forward"/> sums the rows of known attributes (one-hot
    /// probabilities give the same tensor). The mapper and the visual encoder predict these logits instead of
    /// regressing the 64 numbers directly: a regression had to learn colour and shape jointly (its error on held-out
    /// pairs landed on seen colours), while one classifier per attribute keeps colour independent of shape, and the
    /// output stays on the decoder's training manifold, so its conditioning noise tolerance covers the rest.
    /// </summary>
    public Tensor FromLogits(Tensor logits)
    {
        using var scope = NewDisposeScope();
        var groups = SplitGroups(logits);
        Embedding[] tables = [colour_embed, shape_embed, size_embed, row_embed, column_embed];
        var sum = slot_embed.unsqueeze(0).expand(logits.shape[0], -1, -1);
        for (int g = 0; g < tables.Length; g++)
            sum = sum + groups[g].softmax(-1).matmul(tables[g].weight!);
        return sum.MoveToOuterDisposeScope();
    }

    /// <summary>Sum over attributes of the cross entropy of logits [B, slots, LogitWidth] against attribute indices [B, slots, 5], averaged over slots.</summary>
    public static Tensor AttributeLoss(Tensor logits, Tensor attributes)
    {
        using var scope = NewDisposeScope();
        var groups = SplitGroups(logits);
        var targets = attributes.unbind(-1);
        Tensor? loss = null;
        for (int g = 0; g < groups.Length; g++)
        {
            var ce = nn.functional.cross_entropy(groups[g].reshape(-1, GroupSizes[g]), targets[g].reshape(-1));
            loss = loss is null ? ce : loss + ce;
        }
        return loss!.MoveToOuterDisposeScope();
    }

    /// <summary>Argmax attribute indices [B, slots, 5] of logits [B, slots, LogitWidth].</summary>
    public static Tensor Predict(Tensor logits)
    {
        using var scope = NewDisposeScope();
        return stack(SplitGroups(logits).Select(g => g.argmax(-1)).ToArray(), -1).MoveToOuterDisposeScope();
    }

    /// <summary>attributes [B, slots, 5] int64 (colour, shape, size, row, column) -> [B, slots, dim].</summary>
    public override Tensor forward(Tensor attributes)
    {
        using var scope = NewDisposeScope();
        var a = attributes.unbind(-1);
        var sum = colour_embed.forward(a[0]) + shape_embed.forward(a[1]) + size_embed.forward(a[2]) + row_embed.forward(a[3]) + column_embed.forward(a[4]);
        return (sum + slot_embed.unsqueeze(0)).MoveToOuterDisposeScope();
    }

    /// <summary>[B, slots, 5] attribute indices of scenes (objects in reading order; empty slots get the "none" rows).</summary>
    public static Tensor Attributes(IReadOnlyList<Scene> scenes, int slots)
    {
        var data = new long[scenes.Count * slots * 5];
        for (int b = 0; b < scenes.Count; b++)
            for (int s = 0; s < slots; s++)
            {
                long[] row = s < scenes[b].Objects.Count
                    ? [scenes[b].Objects[s].Colour, (int)scenes[b].Objects[s].Shape, (int)scenes[b].Objects[s].Size, scenes[b].Objects[s].Row, scenes[b].Objects[s].Column]
                    : [Palette.Count, 3, 2, 3, 3];
                row.CopyTo(data, (b * slots + s) * 5);
            }
        return tensor(data, [scenes.Count, slots, 5]);
    }
}
