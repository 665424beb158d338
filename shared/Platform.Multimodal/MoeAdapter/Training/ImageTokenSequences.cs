using Platform.Inference.Models.Moe;
using Platform.Multimodal.Models.Vq;
using Platform.Multimodal.Training;
using Platform.Multimodal.World;
using static TorchSharp.torch;

namespace Platform.Multimodal.MoeAdapter.Training;

/// <summary>
/// A drawing request as the image-token model reads and writes it: the user's request in the chat layout, the
/// assistant's sentence ("here is a small red circle at the top left."), begin-of-image, the picture's codes in
/// raster order, end-of-image and &lt;|im_end|&gt;. The sentence is the base's own (its text-only answer), so the
/// adapter learns only to continue it with the picture.
/// </summary>
public sealed class ImageTokenSequences(DemoChat chat, ImageVocabulary vocabulary)
{
    public DemoChat Chat => chat;
    public ImageVocabulary Vocabulary => vocabulary;

    /// <summary>The prompt ids of a request's user turn, up to the assistant's header (what a client sends).</summary>
    public int[] Prompt(WorldDialogue request) => chat.Encode([request.Turns[0]], addGenerationPrompt: true).Ids;

    /// <summary>The whole sequence of a request drawn with <paramref name="codes"/>, and where the image run (begin) starts.</summary>
    public (int[] Ids, int ImageStart) Sequence(WorldDialogue request, ReadOnlySpan<long> codes)
    {
        var text = MoeBaseStage.TextOnly(request) ?? throw new ArgumentException("a drawing request reads no picture", nameof(request));
        var prompt = Prompt(text);
        var sentence = chat.Tokenizer.Encode(text.Turns[1].Text);
        var picture = vocabulary.Picture(codes);
        return ([.. prompt, .. sentence, .. picture, chat.ImEnd], prompt.Length + sentence.Count);
    }

    /// <summary>The VQ codes [count, g*g] of the requests' pictures (unjittered, as drawn).</summary>
    public static long[] Codes(VqTokenizer vq, IReadOnlyList<WorldDialogue> requests)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        return vq.Encode(LmBatch.RenderImages(requests.Select(r => r.Turns[1].OutputScene!).ToList())).contiguous().data<long>().ToArray();
    }

    /// <summary>ids [B, T] (right-padded with &lt;|im_end|&gt;) and labels [B, T]: -100 except on the image run
    /// (begin, codes, end) and the &lt;|im_end|&gt; after it, so the loss is the image tokens' and the stop's.</summary>
    public (Tensor Ids, Tensor Labels) Batch(IReadOnlyList<WorldDialogue> requests, long[] codes)
    {
        int per = vocabulary.CodesPerImage;
        var rows = requests.Select((r, i) => Sequence(r, codes.AsSpan(i * per, per))).ToList();
        int t = rows.Max(r => r.Ids.Length);
        var idData = Enumerable.Repeat((long)chat.ImEnd, rows.Count * t).ToArray();
        var labelData = Enumerable.Repeat(-100L, rows.Count * t).ToArray();
        for (int i = 0; i < rows.Count; i++)
            for (int j = 0; j < rows[i].Ids.Length; j++)
            {
                idData[i * t + j] = rows[i].Ids[j];
                if (j >= rows[i].ImageStart) labelData[i * t + j] = rows[i].Ids[j];
            }
        return (tensor(idData, [rows.Count, t]), tensor(labelData, [rows.Count, t]));
    }
}
