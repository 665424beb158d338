using static TorchSharp.torch;

namespace Platform.Multimodal.Training;

/// <summary>The mapper's memory for pictures of teacher-forced conversations: per picture the last
/// <see cref="Models.MultimodalConfig.MapperContext"/> words before its [IMG] tokens (back to the start of their
/// answer or the previous picture) and the r [IMG] tokens, padded at the front to context + r rows, as the engine reports
/// them at serving time (<see cref="Serving.MultimodalModels"/> pads them the same way).</summary>
public static class MapperMemory
{
    /// <summary>One picture: its batch row, its index among that dialogue's pictures, where its words begin and where
    /// its [IMG] tokens begin.</summary>
    public readonly record struct Picture(int Row, int Index, int ContextStart, int ImgStart);

    /// <summary>The pictures of a batch of encoded dialogues, in order (the last one of each when <paramref name="lastOnly"/>).</summary>
    public static List<Picture> Pictures(IReadOnlyList<EncodedDialogue> batch, bool lastOnly = false)
    {
        var pictures = new List<Picture>();
        for (int i = 0; i < batch.Count; i++)
        {
            int n = batch[i].ImgTokenStarts.Count;
            for (int k = lastOnly ? n - 1 : 0; k < n; k++) pictures.Add(new Picture(i, k, batch[i].ImgContextStarts[k], batch[i].ImgTokenStarts[k]));
        }
        return pictures;
    }

    /// <summary>hidden and embeds [B, T, H] -> per picture [N, S, H] each and the keep mask [N, S] (false on padding).</summary>
    public static (Tensor Hidden, Tensor Embeds, Tensor Keep) Gather(Tensor hidden, Tensor embeds, IReadOnlyList<Picture> pictures, int context, int imageTokens)
    {
        using var scope = NewDisposeScope();
        long t = hidden.shape[1], h = hidden.shape[2];
        var words = pictures.Select(p => Math.Min(context, p.ImgStart - p.ContextStart)).ToArray();
        int s = context + imageTokens;
        var index = new long[pictures.Count * s];
        var keep = new bool[pictures.Count * s];
        for (int n = 0; n < pictures.Count; n++)
        {
            var p = pictures[n];
            int pad = s - words[n] - imageTokens;
            for (int j = 0; j < s; j++)
            {
                // Padding rows point at the first [IMG] token (any valid row: the mask drops them).
                index[n * s + j] = p.Row * t + (j < pad ? p.ImgStart : p.ImgStart - words[n] + (j - pad));
                keep[n * s + j] = j >= pad;
            }
        }
        var rows = tensor(index, device: hidden.device);
        var gatheredHidden = hidden.reshape(-1, h).index_select(0, rows).view(pictures.Count, s, h);
        var gatheredEmbeds = embeds.reshape(-1, h).index_select(0, rows).view(pictures.Count, s, h);
        return (gatheredHidden.MoveToOuterDisposeScope(), gatheredEmbeds.MoveToOuterDisposeScope(), tensor(keep, device: hidden.device).view(pictures.Count, s).MoveToOuterDisposeScope());
    }

    /// <summary>The last r rows of a memory: the [IMG] tokens' states, which the decision and retrieval heads read.</summary>
    public static Tensor ImageRows(Tensor memory, int imageTokens) => memory[.., ^imageTokens..];
}
