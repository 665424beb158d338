namespace Gateway.Security;

/// <summary>
/// Headers on every response: no MIME sniffing, no framing, no referrer; the web UI's page sets its own
/// Content-Security-Policy (WebUi/WebUiEndpoints.cs) and these complete it.
/// </summary>
public sealed class SecurityHeadersMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext http)
    {
        var h = http.Response.Headers;
        h.XContentTypeOptions = "nosniff";
        h.XFrameOptions = "DENY";
        h["Referrer-Policy"] = "no-referrer";
        h["Cross-Origin-Opener-Policy"] = "same-origin";
        return next(http);
    }
}
