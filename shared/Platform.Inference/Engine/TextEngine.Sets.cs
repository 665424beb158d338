using Platform.Inference.Generation;
using Platform.Contracts.Chat;
using Platform.Inference.Models;
using static TorchSharp.torch;

namespace Platform.Inference.Engine;

/// <summary>Prompts with sets (Set-Based Prompting): building their <see cref="SetLayout"/> from tokens or marked text.</summary>
public sealed partial class TextEngine
{
    private (SetLayout Layout, bool IsChat) BuildSetLayout(GenerationRequest request)
    {
        if (request.PromptPieces is { } given)
        {
            var pieces = new List<(TokenRun?, IReadOnlyList<TokenRun>?)>();
            foreach (var p in given)
            {
                if ((p.Tokens is null) == (p.Members is null)) throw new ArgumentException("a prompt piece has either Tokens or Members");
                if (p.Tokens is { } t) { CheckVocabulary(t); pieces.Add((TokenRun.Of(t), null)); }
                else
                {
                    foreach (var m in p.Members!) CheckVocabulary(m);
                    pieces.Add((null, p.Members!.Select(TokenRun.Of).ToList()));
                }
            }
            return (SetLayout.Build(pieces), false);
        }
        string text;
        bool isChat = false;
        bool addBos = false;
        var images = new Queue<VisualEmbedding>();
        if (request.Prompt is { } prompt)
        {
            text = prompt;
            addBos = _model.Tokenizer.AddBos;
            foreach (var img in request.PromptImages ?? []) images.Enqueue(img);
        }
        else if (request.Messages is { Count: > 0 } messages)
        {
            isChat = true;
            text = _model.ChatTemplate.Render(messages);
            foreach (var img in messages.SelectMany(m => m.Images ?? [])) images.Enqueue(img);
        }
        else throw new ArgumentException("UseSetMarkers needs Messages or Prompt");

        var segments = new List<(TokenRun?, IReadOnlyList<TokenRun>?)>();
        bool first = true;
        foreach (var (run, members) in SplitMarkedText(text))
        {
            if (run is not null)
            {
                if (run.Length > 0 || (first && addBos)) segments.Add((TokenizeWithImages(run, images, first && addBos), null));
            }
            else
            {
                // SplitMarkedText always yields the run before a set first, so BOS (if any) has been added.
                segments.Add((null, members!.Select(m => TokenizeWithImages(m, images, addBos: false)).ToList()));
            }
            first = false;
        }
        if (images.Count > 0)
            throw new ArgumentException($"messages contain {images.Count} more images than '{GenerationRequest.ImagePlaceholder}' placeholders");
        return (SetLayout.Build(segments), isChat);
    }

    /// <summary>
    /// Splits text at <see cref="SetMarkers"/>: runs outside, and the members of every Start .. End group (split at Split).
    /// Nested or unbalanced markers and empty members are rejected.
    /// </summary>
    public static List<(string? Run, List<string>? Members)> SplitMarkedText(string text)
    {
        var result = new List<(string?, List<string>?)>();
        int at = 0;
        while (true)
        {
            int start = text.IndexOf(SetMarkers.Start, at, StringComparison.Ordinal);
            var before = start < 0 ? text[at..] : text[at..start];
            if (before.Contains(SetMarkers.Split, StringComparison.Ordinal) || before.Contains(SetMarkers.End, StringComparison.Ordinal))
                throw new ArgumentException($"'{SetMarkers.Split}' or '{SetMarkers.End}' outside a set (sets open with '{SetMarkers.Start}')");
            result.Add((before, null));
            if (start < 0) break;
            int bodyStart = start + SetMarkers.Start.Length;
            int end = text.IndexOf(SetMarkers.End, bodyStart, StringComparison.Ordinal);
            if (end < 0) throw new ArgumentException($"a set opened with '{SetMarkers.Start}' is not closed with '{SetMarkers.End}'");
            var body = text[bodyStart..end];
            if (body.Contains(SetMarkers.Start, StringComparison.Ordinal)) throw new ArgumentException("sets cannot be nested");
            var members = body.Split(SetMarkers.Split).ToList();
            if (members.Any(m => m.Length == 0)) throw new ArgumentException("a set has an empty member");
            result.Add((null, members));
            at = end + SetMarkers.End.Length;
        }
        return result;
    }

    /// <summary>Tokenizes one piece; each image placeholder takes the next image's visual rows.</summary>
    private TokenRun TokenizeWithImages(string text, Queue<VisualEmbedding> images, bool addBos)
    {
        var tok = _model.Tokenizer;
        int hidden = _model.Config.HiddenSize;
        int filler = tok.EosTokenId ?? 0;   // any id: its embedding row is replaced
        var tokens = new List<int>();
        var rows = new List<float[]?>();
        if (addBos && tok.BosTokenId is int bos) { tokens.Add(bos); rows.Add(null); }
        var parts = text.Split(GenerationRequest.ImagePlaceholder);
        for (int i = 0; i < parts.Length; i++)
        {
            if (parts[i].Length > 0)
                foreach (var t in tok.Encode(parts[i])) { tokens.Add(t); rows.Add(null); }
            if (i == parts.Length - 1) break;
            if (!images.TryDequeue(out var img))
                throw new ArgumentException($"the prompt has more '{GenerationRequest.ImagePlaceholder}' placeholders than images");
            if (img.Hidden != hidden) throw new ArgumentException($"an image has embedding width {img.Hidden}; the model's hidden size is {hidden}");
            if (img.Tokens <= 0 || img.Data.Length != img.Tokens * img.Hidden)
                throw new ArgumentException($"an image has {img.Data.Length} values, expected Tokens x Hidden = {img.Tokens} x {img.Hidden}");
            for (int t = 0; t < img.Tokens; t++)
            {
                tokens.Add(filler);
                rows.Add(img.Data.AsSpan(t * hidden, hidden).ToArray());
            }
        }
        return new TokenRun(tokens.ToArray(), rows.ToArray());
    }

    private void CheckVocabulary(IReadOnlyList<int> tokens)
    {
        foreach (var t in tokens)
            if (t < 0 || t >= _model.Model.OutputVocabulary) throw new ArgumentException($"prompt token {t} is outside the vocabulary (0..{_model.Model.OutputVocabulary - 1})");
    }

    private static Dictionary<int, float[]>? LayoutRows(SetLayout layout)
    {
        Dictionary<int, float[]>? rows = null;
        for (int i = 0; i < layout.Rows.Length; i++)
            if (layout.Rows[i] is { } r) (rows ??= new())[i] = r;
        return rows;
    }

    /// <summary>Row <paramref name="row"/> of a logits tensor [B, 1, vocab] as floats, when the sequence asked for logits.</summary>
    private static float[]? LogitsRow(Sequence seq, Tensor logits, int row) =>
        seq.Request.ReturnLogits ? logits.view(logits.shape[0], -1)[row].to(CPU).data<float>().ToArray() : null;

    /// <summary>With <see cref="GenerationRequest.Logprobs"/>: the chosen token's log-probability and the top alternatives.</summary>
    private TokenLogprob? LogprobRow(Sequence seq, Tensor logits, int row, int token) =>
        seq.Request.Logprobs is { } top
            ? LogprobCalculator.Compute(logits.view(logits.shape[0], -1)[row], seq.Sampling.Options.Temperature, token, top, TokenBytes)
            : null;

    /// <summary>The bytes a logprob reports for a token: the tokenizer's, or an image token's name (<see cref="PictureConstraint.TokenText"/>).</summary>
    private byte[] TokenBytes(int id) => _model.ImageVocabulary is { } v && id >= v.BaseVocabulary
        ? System.Text.Encoding.UTF8.GetBytes(PictureConstraint.TokenText(v, _model.ImageAdapterConfig, id))
        : _model.Tokenizer.TokenBytes(id).ToArray();
}
