namespace Gateway.Security;

/// <summary>The API key a request came with (HttpContext feature), when the gateway requires keys.</summary>
public sealed record Caller(string KeyId, string Tenant, IReadOnlySet<string>? AllowedModels)
{
    public bool MayUse(string model) => AllowedModels is null || AllowedModels.Contains(model);

    /// <summary>Whether the current request may see <paramref name="model"/>: always on an open gateway.</summary>
    public static bool MayUse(HttpContext http, string model) => http.Features.Get<Caller>() is not { } caller || caller.MayUse(model);
}
