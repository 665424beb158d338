using System.Text.RegularExpressions;
using Gateway.OpenAi;
using Gateway.Validation;
using Microsoft.Extensions.Options;
using Platform.Contracts.Chat;
using Platform.Contracts.Images;

namespace Gateway.Images;

/// <summary>
/// Input images of a chat request: each decoded data URL goes to ImageGen for encoding (all at once), and the turns
/// that hold images are rebuilt in part order with one "&lt;image&gt;" placeholder per image, parts joined by a
/// space as in the demo world's prompts ("&lt;image&gt; describe the image."). Literal placeholders typed by the
/// user are neutralised so the count of placeholders always equals the count of images.
/// <para>
/// Earlier pictures in the history: a plain OpenAI client sends back only the text it received, in which each picture
/// is a markdown link to this gateway's own <c>/v1/images/{id}.png</c>. Every such link whose image is still in the
/// <see cref="ImageStore"/> becomes an image again (the stored PNG is encoded like an uploaded one and its visual
/// tokens stand where the link stood), in any role, so "now make it green" after a drawing reads the drawing itself.
/// Links to other hosts' paths, unknown or evicted ids stay text. Linked images count toward
/// <see cref="GatewayOptions.MaxImagesPerRequest"/>; beyond it the oldest links stay text.
/// </para>
/// </summary>
public sealed partial class ImageInputs(ImageGenClient imageGen, ImageStore store, IOptions<GatewayOptions> gatewayOptions)
{
    public const string Placeholder = Platform.Contracts.Chat.PromptMarkers.Image;

    [GeneratedRegex(@"!\[[^\]\n]*\]\((?<url>[^)\s]*/v1/images/(?<id>img-[0-9a-f]{32})\.png)\)")]
    private static partial Regex StoredImageLink();

    /// <summary>Whether any message holds a link to an image this gateway still stores.</summary>
    public bool HasStoredLinks(IReadOnlyList<ChatTurn> messages) =>
        messages.Any(m => StoredImageLink().Matches(m.Content).Any(x => store.Get(x.Groups["id"].Value) is not null));

    public async Task<(IReadOnlyList<ChatTurn>? Turns, ApiError? Error)> AttachAsync(
        ChatCompletionRequestDto dto, ValidatedChatRequest request, CancellationToken ct)
    {
        // Each message as segments in order: text, an uploaded image (by its index) or a stored image's PNG.
        var segments = new List<List<Segment>>(request.Messages.Count);
        var byPosition = request.Images.Select((image, k) => (image, k)).ToDictionary(e => (e.image.MessageIndex, e.image.PartIndex), e => e.k);
        for (var i = 0; i < request.Messages.Count; i++)
        {
            var parts = dto.Messages![i].Content!.Parts;
            var list = new List<Segment>();
            if (parts is null || !byPosition.Keys.Any(k => k.MessageIndex == i)) list.AddRange(Links(request.Messages[i].Content, i));
            else
                for (var j = 0; j < parts.Count; j++)
                {
                    if (byPosition.TryGetValue((i, j), out var k)) list.Add(new Segment(null, k, null, $"messages[{i}].content[{j}]"));
                    else if (parts[j].Text is { } text) list.AddRange(Links(text, i));
                }
            segments.Add(list);
        }
        // Linked images beyond the per-request limit stay text, the oldest first.
        var budget = gatewayOptions.Value.MaxImagesPerRequest - request.Images.Count;
        var linked = segments.SelectMany(s => s).Where(s => s.Png is not null).ToList();
        foreach (var old in linked.Take(Math.Max(0, linked.Count - Math.Max(0, budget)))) old.Png = null;

        var encodeJobs = segments.SelectMany(s => s).Where(s => s.Upload is not null || s.Png is not null).ToList();
        var encoded = await Task.WhenAll(encodeJobs.Select(async s =>
        {
            var bytes = s.Png ?? request.Images[s.Upload!.Value].Bytes;
            var (tokens, rejection) = await imageGen.EncodeAsync(request.Model, bytes, s.Name, ct);
            return (s, tokens, rejection);
        }));
        if (encoded.FirstOrDefault(e => e.rejection is not null && e.s.Upload is not null) is { rejection: not null } bad)
            return (null, ApiError.Invalid($"Invalid image: {bad.rejection}", $"{bad.s.Name}.image_url.url", "invalid_image"));
        foreach (var e in encoded) e.s.Tokens = e.tokens;

        var turns = new List<ChatTurn>(request.Messages.Count);
        for (var i = 0; i < request.Messages.Count; i++)
        {
            var turn = request.Messages[i];
            if (!segments[i].Any(s => s.Tokens is not null))
            {
                turns.Add(turn with { Content = Neutralise(turn.Content) });
                continue;
            }
            var pieces = new List<string>();
            var images = new List<VisualTokens>();
            foreach (var s in segments[i])
            {
                if (s.Tokens is not null)
                {
                    pieces.Add(Placeholder);
                    images.Add(s.Tokens);
                }
                else if (s.Text is not null) pieces.Add(Neutralise(s.Text));
            }
            // Uploaded parts are joined by a space; a link's own surrounding text keeps its spacing.
            turns.Add(turn with { Content = string.Join(" ", pieces.Select(p => p.Trim()).Where(p => p.Length > 0)), Images = images });
        }
        return (turns, null);
    }

    /// <summary>Text with each link to a stored image split out as an image segment (the link text is kept in case
    /// the image cannot be used).</summary>
    private IEnumerable<Segment> Links(string text, int message)
    {
        int at = 0;
        foreach (Match m in StoredImageLink().Matches(text))
        {
            if (store.Get(m.Groups["id"].Value) is not { } png) continue;
            if (m.Index > at) yield return new Segment(text[at..m.Index], null, null, "");
            yield return new Segment(m.Value, null, png, $"messages[{message}] image link");
            at = m.Index + m.Length;
        }
        if (at < text.Length || at == 0) yield return new Segment(text[at..], null, null, "");
    }

    private static string Neutralise(string text) => text.Replace(Placeholder, "< image >", StringComparison.Ordinal);

    /// <summary>One piece of a message: text, an uploaded image (index into the request's images) or a stored PNG
    /// (a link; <see cref="Text"/> keeps the link for when it stays text).</summary>
    private sealed class Segment(string? text, int? upload, byte[]? png, string name)
    {
        public string? Text { get; } = text;
        public int? Upload { get; } = upload;
        public byte[]? Png { get; set; } = png;
        public string Name { get; } = name;
        public VisualTokens? Tokens { get; set; }
    }
}
