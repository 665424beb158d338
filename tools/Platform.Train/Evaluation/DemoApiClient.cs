using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Platform.Multimodal.Imaging;
using Platform.Multimodal.World;

namespace Platform.Train.Evaluation;

/// <summary>One picture of an answer: its URL, how it was made ("generate" or "retrieve") and its RGB pixels.</summary>
public sealed record AnswerImage(string Url, string? Source, byte[] Rgb);

/// <summary>An answer as a plain client receives it (<see cref="Content"/>: text with markdown image links) and as
/// parts: the text without images and the pictures in order.</summary>
public sealed record ChatAnswer(string Content, string Text, IReadOnlyList<AnswerImage> Images);

/// <summary>
/// The OpenAI chat API as a client uses it: world conversations become messages (input pictures as PNG data URLs
/// in content parts, in the order of the turn's text), earlier answers go back as the plain content string they
/// came as, and answer pictures are downloaded from their /v1/images URL.
/// </summary>
public sealed class DemoApiClient(HttpClient http, string model)
{
    /// <summary>A user turn of the world as a message: text and image parts in order.</summary>
    public static JsonObject UserMessage(WorldTurn turn)
    {
        var pieces = turn.Text.Split(WorldText.ImagePlaceholder);
        if (pieces.Length == 1) return new JsonObject { ["role"] = "user", ["content"] = turn.Text };
        var parts = new JsonArray();
        for (int p = 0; p < pieces.Length; p++)
        {
            if (p > 0)
            {
                var png = ImageCodec.EncodePng(SceneRenderer.Render(turn.InputImages[p - 1]), WorldSpec.ImageSize, WorldSpec.ImageSize);
                parts.Add(new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = "data:image/png;base64," + Convert.ToBase64String(png) } });
            }
            var text = pieces[p].Trim();
            if (text.Length > 0) parts.Add(new JsonObject { ["type"] = "text", ["text"] = text });
        }
        return new JsonObject { ["role"] = "user", ["content"] = parts };
    }

    /// <summary>Sends the conversation; <paramref name="temperature"/> null leaves the API's default (1).</summary>
    public async Task<ChatAnswer> ChatAsync(JsonArray messages, double? temperature, long seed, CancellationToken ct)
    {
        var body = new JsonObject { ["model"] = model, ["messages"] = messages.DeepClone(), ["seed"] = seed };
        if (temperature is { } t) body["temperature"] = t;
        using var response = await http.PostAsJsonAsync("/v1/chat/completions", body, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"HTTP {(int)response.StatusCode}: {text}");
        var message = JsonNode.Parse(text)!["choices"]![0]!["message"]!;
        var content = (string?)message["content"] ?? "";
        var images = new List<AnswerImage>();
        var plain = new System.Text.StringBuilder();
        foreach (var part in message["parts"]?.AsArray() ?? [])
        {
            if ((string?)part!["type"] == "image_url")
            {
                var url = (string)part["image_url"]!["url"]!;
                var png = await http.GetByteArrayAsync(url, ct);
                var (w, h, rgb) = ImageCodec.DecodeRgb(png);
                if (w != WorldSpec.ImageSize || h != WorldSpec.ImageSize)
                    throw new InvalidDataException($"{url}: {w}x{h}, the world's pictures are {WorldSpec.ImageSize}x{WorldSpec.ImageSize}");
                images.Add(new AnswerImage(url, (string?)part["source"], rgb));
            }
            else plain.Append((string?)part["text"]);
        }
        if (message["parts"] is null) plain.Append(content);
        return new ChatAnswer(content, plain.ToString(), images);
    }
}
