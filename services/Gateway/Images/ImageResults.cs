using System.Text;
using Microsoft.Extensions.Options;
using Platform.Contracts.Images;

namespace Gateway.Images;

/// <summary>Turns an image slot of an answer into a stored PNG with a URL under /v1/images.</summary>
public sealed class ImageResults(ImageGenClient imageGen, ImageStore store, IOptions<ImageServingOptions> options)
{
    /// <summary>Images:PublicBaseUrl, else the scheme and host the client used.</summary>
    public string BaseUrl(HttpContext http) =>
        options.Value.PublicBaseUrl?.TrimEnd('/') ?? $"{http.Request.Scheme}://{http.Request.Host}";

    public async Task<StoredImage> ProduceAsync(string model, ImageSlotStates slot, string? decision, string baseUrl, CancellationToken ct)
    {
        var produced = await imageGen.ProduceAsync(model, slot, decision, ct);
        var id = store.Add(produced.Png);
        return new StoredImage(id, $"{baseUrl}/v1/images/{id}.png", produced);
    }
}

/// <summary>A produced image kept in the <see cref="ImageStore"/>.</summary>
public sealed record StoredImage(string Id, string Url, ImageProduced Produced)
{
    /// <summary>How a plain OpenAI client sees the image: a markdown image reference inside the text content.</summary>
    public string Markdown => $"![image]({Url})";
}

/// <summary>One choice's answer as it arrives: text and images in order, as a content string (images as markdown)
/// and as interleaved parts for frontends.</summary>
public sealed class InterleavedAnswer
{
    private readonly StringBuilder _content = new();
    private readonly StringBuilder _text = new();
    private readonly List<OutputPartDto> _parts = [];

    public void AddText(string delta)
    {
        _content.Append(delta);
        _text.Append(delta);
    }

    public void AddImage(StoredImage image)
    {
        FlushText();
        _content.Append(image.Markdown);
        _parts.Add(OutputPartDto.ForImage(image.Url, image.Produced.Decision));
    }

    public string Content => _content.ToString();

    public IReadOnlyList<OutputPartDto> Parts
    {
        get
        {
            FlushText();
            return _parts.ToList();
        }
    }

    private void FlushText()
    {
        if (_text.Length == 0) return;
        _parts.Add(OutputPartDto.ForText(_text.ToString()));
        _text.Clear();
    }
}
