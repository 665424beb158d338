using Gateway.OpenAi;
using Gateway.Validation;
using Platform.Contracts.Chat;
using Platform.Contracts.Images;

namespace Gateway.Images;

/// <summary>
/// Input images of a chat request: each decoded data URL goes to ImageGen for encoding (all at once), and the turns
/// that hold images are rebuilt in part order with one "&lt;image&gt;" placeholder per image, parts joined by a
/// space as in the demo world's prompts ("&lt;image&gt; describe the image."). Literal placeholders typed by the
/// user are neutralised so the count of placeholders always equals the count of images.
/// </summary>
public sealed class ImageInputs(ImageGenClient imageGen)
{
    public const string Placeholder = Platform.Inference.Engine.GenerationRequest.ImagePlaceholder;

    public async Task<(IReadOnlyList<ChatTurn>? Turns, ApiError? Error)> AttachAsync(
        ChatCompletionRequestDto dto, ValidatedChatRequest request, CancellationToken ct)
    {
        var encoded = await Task.WhenAll(request.Images.Select(async image =>
        {
            var name = $"messages[{image.MessageIndex}].content[{image.PartIndex}]";
            var (tokens, rejection) = await imageGen.EncodeAsync(request.Model, image.Bytes, name, ct);
            return (image, name, tokens, rejection);
        }));
        if (encoded.FirstOrDefault(e => e.rejection is not null) is { rejection: not null } bad)
            return (null, ApiError.Invalid($"Invalid image: {bad.rejection}", $"{bad.name}.image_url.url", "invalid_image"));

        var byPosition = encoded.ToDictionary(e => (e.image.MessageIndex, e.image.PartIndex), e => e.tokens!);
        var turns = new List<ChatTurn>(request.Messages.Count);
        for (var i = 0; i < request.Messages.Count; i++)
        {
            var turn = request.Messages[i];
            var parts = dto.Messages![i].Content!.Parts;
            if (parts is null || !byPosition.Keys.Any(k => k.MessageIndex == i))
            {
                turns.Add(turn with { Content = Neutralise(turn.Content) });
                continue;
            }
            var pieces = new List<string>(parts.Count);
            var images = new List<VisualTokens>();
            for (var j = 0; j < parts.Count; j++)
            {
                if (byPosition.TryGetValue((i, j), out var tokens))
                {
                    pieces.Add(Placeholder);
                    images.Add(tokens);
                }
                else if (parts[j].Text is { } text) pieces.Add(Neutralise(text));
            }
            turns.Add(turn with { Content = string.Join(" ", pieces), Images = images });
        }
        return (turns, null);
    }

    private static string Neutralise(string text) => text.Replace(Placeholder, "< image >", StringComparison.Ordinal);
}
