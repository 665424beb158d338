using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.FileProviders;

namespace Gateway.WebUi;

/// <summary>
/// The web UI: index.html at "/" and its scripts, styles and vendored libraries under "/ui/", read from files compiled
/// into this assembly (WebUi/site), so the gateway serves the same bytes wherever it runs and needs no CDN. The page
/// talks to the public /v1 API only.
/// </summary>
public static class WebUiEndpoints
{
    public const string AssetPath = "/ui";

    /// <summary>Same origin only: the page may load nothing from elsewhere, and images are our own URLs or the
    /// data/blob URLs of attachments.</summary>
    private const string ContentSecurityPolicy =
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; " +
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

    private static readonly ManifestEmbeddedFileProvider Files = new(typeof(WebUiEndpoints).Assembly, "WebUi/site");

    public static WebApplication MapWebUi(this WebApplication app)
    {
        var types = new FileExtensionContentTypeProvider();
        types.Mappings[".mjs"] = "text/javascript";
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = Files,
            RequestPath = AssetPath,
            ContentTypeProvider = types,
            // The vendored libraries' LICENSE files have no extension; every file here is ours, so serve them as text.
            ServeUnknownFileTypes = true,
            DefaultContentType = "text/plain; charset=utf-8",
            OnPrepareResponse = ctx =>
            {
                // Revalidate every time (ETag/Last-Modified make that a 304): a new gateway build shows at once.
                ctx.Context.Response.Headers.CacheControl = "no-cache";
                ctx.Context.Response.Headers["X-Content-Type-Options"] = "nosniff";
            },
        });
        app.MapGet("/", (HttpContext http) =>
        {
            http.Response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
            http.Response.Headers.CacheControl = "no-cache";
            return TypedResults.Stream(Files.GetFileInfo("index.html").CreateReadStream(), "text/html; charset=utf-8");
        }).ExcludeFromDescription();
        return app;
    }
}
