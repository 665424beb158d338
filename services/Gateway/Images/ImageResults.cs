using System.Text;
using Microsoft.Extensions.Options;
using Platform.Contracts.Images;

namespace Gateway.Images;

/// <summary>Turns an image slot of an answer into a stored PNG with a URL under /v1/images.</summary>
public sealed class ImageResults(ImageGenClient imageGen, IImageStore store, IOptions<ImageServingOptions> options, IServiceProvider services)
{
    /// <summary>Images:PublicBaseUrl, else the scheme and host the client used.</summary>
    public string BaseUrl(HttpContext http) =>
        options.Value.PublicBaseUrl?.TrimEnd('/') ?? $"{http.Request.Scheme}://{http.Request.Host}";

    /// <summary>
    /// The base of image URLs in answers no client request carries (batch results, made later and read anywhere):
    /// Images:PublicBaseUrl, else this gateway's own first listening address with a wildcard host read as localhost
    /// (right for the all-in-one host; behind a load balancer set Images:PublicBaseUrl, as the Helm chart does).
    /// </summary>
    public string BackgroundBaseUrl()
    {
        if (options.Value.PublicBaseUrl is { Length: > 0 } configured) return configured.TrimEnd('/');
        var address = services.GetService<Microsoft.AspNetCore.Hosting.Server.IServer>()?.Features
            .Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? throw new InvalidOperationException("Images:PublicBaseUrl is not set and the gateway listens on no address.");
        var uri = new UriBuilder(address.Replace("://+", "://localhost").Replace("://*", "://localhost"));
        if (uri.Host is "0.0.0.0" or "[::]" or "::") uri.Host = "localhost";
        return uri.Uri.GetLeftPart(UriPartial.Authority);
    }

    public async Task<StoredImage> ProduceAsync(string model, ImageSlotStates slot, string? decision, string baseUrl, CancellationToken ct)
    {
        var produced = await imageGen.ProduceAsync(model, slot, decision, ct);
        var id = await store.AddAsync(produced.Png, ct);
        return new StoredImage(id, $"{baseUrl}/v1/images/{id}.png", produced);
    }

    /// <summary>A picture an image-token model drew (already a PNG, decoded by its worker): stored like ImageGen's.
    /// Such a model always generates (it has no gallery to retrieve from), so its decision is "generate".</summary>
    public async Task<StoredImage> StoreAsync(DecodedPicture picture, string baseUrl, CancellationToken ct)
    {
        var id = await store.AddAsync(picture.Png, ct);
        var produced = new ImageProduced(Guid.NewGuid(), "generate", 0f, picture.Png, picture.Width, picture.Height, null, null);
        return new StoredImage(id, $"{baseUrl}/v1/images/{id}.png", produced);
    }

    /// <summary>Whether the model draws pictures in its answers: GILL models (image slots drawn by ImageGen) or
    /// image-token models (pictures decoded by their worker).</summary>
    public static bool DrawsImages(Platform.Contracts.Models.ServedModel model) => model.AcceptsImages || DrawsImageTokens(model);

    /// <summary>An image-token model (MoeAdapter): its chunks carry decoded pictures.</summary>
    public static bool DrawsImageTokens(Platform.Contracts.Models.ServedModel model) =>
        model.Capabilities?.Contains(Platform.Contracts.Moe.ImageTokenQueues.Capability) ?? false;
}

/// <summary>A produced image kept in the <see cref="IImageStore"/>.</summary>
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
