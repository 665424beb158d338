using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Platform.Batch;

namespace Gateway.Security;

/// <summary>
/// The admin API of the keys: POST /admin/keys (create; the answer holds the key, once), GET /admin/keys (list, no
/// secrets), GET /admin/keys/{id}, DELETE /admin/keys/{id} (revoke). Protected by Security:AdminKey as a Bearer
/// token; without an admin key configured the admin API does not exist (404).
/// </summary>
public static partial class AdminKeysEndpoints
{
    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,63}$")]
    private static partial Regex TenantName();

    public static IEndpointRouteBuilder MapAdminKeys(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/admin/keys").ExcludeFromDescription();
        group.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            var admin = http.RequestServices.GetRequiredService<IOptions<SecurityOptions>>().Value.AdminKey;
            if (string.IsNullOrEmpty(admin) || http.RequestServices.GetService<ApiKeyStore>() is null)
                return OpenAiErrors.NotFound("The admin API is off: Security:AdminKey is not set.");
            var header = http.Request.Headers.Authorization.ToString();
            if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || !ApiKeyTokens.SecretEquals(header[7..].Trim(), admin))
            {
                http.Response.Headers.WWWAuthenticate = "Bearer";
                return OpenAiErrors.Result(StatusCodes.Status401Unauthorized, "The admin API needs the admin key as 'Authorization: Bearer ADMIN_KEY'.",
                    code: "invalid_admin_key");
            }
            return await next(context);
        });
        group.MapPost("", CreateAsync);
        group.MapGet("", ListAsync);
        group.MapGet("/{id}", GetAsync);
        group.MapDelete("/{id}", RevokeAsync);
        return routes;
    }

    internal static async Task<IResult> CreateAsync(HttpRequest request, AccessMode mode, CancellationToken cancellationToken)
    {
        var store = Store(request.HttpContext);
        JsonElement root;
        try
        {
            using var document = await JsonDocument.ParseAsync(request.Body, cancellationToken: cancellationToken);
            root = document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            return OpenAiErrors.BadRequest($"The request body is not valid JSON: {ex.Message}", null, "invalid_json");
        }
        if (root.ValueKind != JsonValueKind.Object) return OpenAiErrors.BadRequest("The request body must be a JSON object.", null, "invalid_json");
        if (UnsafeText.Find(root) is { } bad)
            return OpenAiErrors.BadRequest($"'{bad.Path}' holds {bad.Problem} (or bytes that are not UTF-8), which is not accepted.",
                UnsafeText.TopLevel(bad.Path), "invalid_value");
        foreach (var p in root.EnumerateObject())
            if (p.Name is not ("tenant" or "name" or "models" or "requests_per_minute" or "tokens_per_minute" or "batch_requests_per_minute"))
                return OpenAiErrors.BadRequest($"Unrecognized request argument supplied: {UnsafeText.Printable(p.Name)}", UnsafeText.Printable(p.Name), "unknown_parameter");

        if (!root.TryGetProperty("tenant", out var t) || t.ValueKind != JsonValueKind.String)
            return OpenAiErrors.BadRequest("Missing required parameter: 'tenant'.", "tenant", "missing_required_parameter");
        if (!UnsafeText.TryGetString(t, out var tenant, out _) || !TenantName().IsMatch(tenant))
            return OpenAiErrors.BadRequest("'tenant' must be 1-64 characters: lower-case letters, digits, '-' and '_', starting with a letter or digit.",
                "tenant", "invalid_value");

        var name = "";
        if (root.TryGetProperty("name", out var n) && n.ValueKind != JsonValueKind.Null)
        {
            string? problem = null;
            if (n.ValueKind != JsonValueKind.String || !UnsafeText.TryGetString(n, out name, out problem) || name.Length > 128)
                return OpenAiErrors.BadRequest(problem is null ? "'name' must be a string of at most 128 characters." : $"'name' holds {problem}, which is not accepted.",
                    "name", "invalid_value");
        }

        List<string>? models = null;
        if (root.TryGetProperty("models", out var m) && m.ValueKind != JsonValueKind.Null)
        {
            if (m.ValueKind != JsonValueKind.Array || m.GetArrayLength() > 1024)
                return OpenAiErrors.BadRequest("'models' must be an array of at most 1024 model names.", "models", "invalid_value");
            models = [];
            foreach (var item in m.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.String || !UnsafeText.TryGetString(item, out var model, out _) || model.Length is 0 or > 256)
                    return OpenAiErrors.BadRequest("Each entry of 'models' must be a model name (1-256 characters).", "models", "invalid_value");
                models.Add(model);
            }
        }

        var limits = new long?[3];
        string[] limitNames = ["requests_per_minute", "tokens_per_minute", "batch_requests_per_minute"];
        for (var i = 0; i < limitNames.Length; i++)
        {
            if (!root.TryGetProperty(limitNames[i], out var l) || l.ValueKind == JsonValueKind.Null) continue;
            if (l.ValueKind != JsonValueKind.Number || !l.TryGetInt64(out var value) || value is < 0 or > int.MaxValue)
                return OpenAiErrors.BadRequest($"'{limitNames[i]}' must be an integer from 0 (unlimited) to {int.MaxValue}.", limitNames[i], "invalid_value");
            limits[i] = value;
        }

        var (record, key) = await store.CreateAsync(tenant, name, models, limits[0], limits[1], limits[2], cancellationToken);
        mode.RequireKeys();
        var body = ToJson(record);
        body["key"] = key;
        return TypedResults.Json(body, statusCode: StatusCodes.Status201Created);
    }

    internal static async Task<IResult> ListAsync(HttpContext http, CancellationToken cancellationToken) =>
        TypedResults.Json(new JsonObject
        {
            ["object"] = "list",
            ["data"] = new JsonArray((await Store(http).ListAsync(cancellationToken)).Select(r => (JsonNode)ToJson(r)).ToArray()),
        });

    internal static async Task<IResult> GetAsync(string id, HttpContext http, CancellationToken cancellationToken) =>
        await Store(http).GetAsync(id, cancellationToken) is { } record ? TypedResults.Json(ToJson(record)) : NoSuchKey(id);

    internal static async Task<IResult> RevokeAsync(string id, HttpContext http, CancellationToken cancellationToken) =>
        await Store(http).RevokeAsync(id, cancellationToken) && await Store(http).GetAsync(id, cancellationToken) is { } record
            ? TypedResults.Json(ToJson(record))
            : NoSuchKey(id);

    /// <summary>Resolved here, after the filter: without a platform database the store is null and the filter answered 404.</summary>
    private static ApiKeyStore Store(HttpContext http) => http.RequestServices.GetRequiredService<ApiKeyStore>();

    private static IResult NoSuchKey(string id) => OpenAiErrors.NotFound($"No API key with id '{UnsafeText.Printable(id)}'.", "id");

    private static JsonObject ToJson(ApiKeyRecord r) => new()
    {
        ["id"] = r.Id,
        ["object"] = "api_key",
        ["tenant"] = r.Tenant,
        ["name"] = r.Name,
        ["prefix"] = r.Prefix,
        ["created_at"] = r.CreatedAt,
        ["revoked_at"] = r.RevokedAt,
        ["models"] = r.AllowedModels is { } models ? new JsonArray(models.Order(StringComparer.Ordinal).Select(x => (JsonNode)x!).ToArray()) : null,
        ["requests_per_minute"] = r.RequestsPerMinute,
        ["tokens_per_minute"] = r.TokensPerMinute,
        ["batch_requests_per_minute"] = r.BatchRequestsPerMinute,
    };
}
