using Platform.Multimodal.World;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Multimodal.Models;

/// <summary>
/// The decoder's "text encoder": turns a scene's objects into the conditioning [B, slots, dim] the image decoder
/// is trained on, as Stable Diffusion's CLIP text encoder does for GILL. Each slot is the sum of learned
/// embeddings of the object's attributes; a missing object uses each table's last ("none") row. The GILL mapper
/// later learns to regress these targets from the language model's [IMG] states (GILL eq. 3, an MSE loss).
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
