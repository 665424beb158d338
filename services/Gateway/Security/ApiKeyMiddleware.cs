using System.Globalization;
using Gateway.Validation;
using Microsoft.Extensions.Options;
using Platform.Batch.Tenancy;

namespace Gateway.Security;

/// <summary>
/// The gate in front of /v1: the shared request limits (<see cref="RequestPeek"/>) always; and when keys are required,
/// the Bearer key (401 when missing, wrong or revoked), the key's model allow-list (404, as for a model that does not
/// exist), its per-minute limits (429 with Retry-After and x-ratelimit-* headers), and its tenant for everything the
/// request stores or reads (<see cref="TenantContext"/>).
/// </summary>
public sealed class ApiKeyMiddleware(
    RequestDelegate next,
    AccessMode mode,
    IOptions<SecurityOptions> securityOptions,
    IOptions<GatewayOptions> gatewayOptions,
    KeyRateLimiter limiter)
{
    public async Task InvokeAsync(HttpContext http)
    {
        if (!http.Request.Path.StartsWithSegments("/v1"))
        {
            await next(http);
            return;
        }
        var options = securityOptions.Value;
        if (!mode.KeysRequired)
        {
            var (_, openLimitError) = await RequestPeek.ReadAsync(http, gatewayOptions.Value.MaxRequestBodyBytes, options);
            if (openLimitError is not null) await openLimitError.ToResult(http).ExecuteAsync(http);
            else await next(http);
            return;
        }

        var key = BearerToken(http.Request);
        if (key is null)
        {
            await Unauthorized(http, "You didn't provide an API key. Provide it in the Authorization header as 'Bearer YOUR_KEY'.", "missing_api_key");
            return;
        }
        var store = http.RequestServices.GetRequiredService<ApiKeyStore>();
        var record = await store.FindActiveAsync(key, http.RequestAborted);
        if (record is null)
        {
            // Wrong and revoked keys get the same answer: it does not tell which keys ever existed.
            await Unauthorized(http, $"Incorrect API key provided: {ApiKeyTokens.Prefix(key)}…", "invalid_api_key");
            return;
        }
        var caller = new Caller(record.Id, record.Tenant, record.AllowedModels);
        http.Features.Set(caller);

        // The body is read only for a caller with a valid key.
        var (peek, limitError) = await RequestPeek.ReadAsync(http, gatewayOptions.Value.MaxRequestBodyBytes, options);
        if (limitError is not null)
        {
            await limitError.ToResult(http).ExecuteAsync(http);
            return;
        }

        if (peek?.Model is { } model && !caller.MayUse(model))
        {
            await NoSuchModel(model, "model").ToResult(http).ExecuteAsync(http);
            return;
        }
        // A batch may not reach models the key may not call: every line's model is checked when the batch is created.
        if (caller.AllowedModels is not null && peek?.InputFileId is { } inputFile && HttpMethods.IsPost(http.Request.Method)
            && http.Request.Path.Equals("/v1/batches", StringComparison.Ordinal)
            && await BatchModels.FirstForbiddenAsync(http, inputFile, record.Tenant, caller) is { } forbidden)
        {
            await NoSuchModel(forbidden.Model, "input_file_id", $" (line {forbidden.Line} of the input file)").ToResult(http).ExecuteAsync(http);
            return;
        }

        var batchApi = http.Request.Path.StartsWithSegments("/v1/files") || http.Request.Path.StartsWithSegments("/v1/batches");
        var requests = batchApi
            ? Limit(record.BatchRequestsPerMinute, options.DefaultBatchRequestsPerMinute)
            : Limit(record.RequestsPerMinute, options.DefaultRequestsPerMinute);
        if (requests > 0)
        {
            var d = limiter.Acquire(record.Id, batchApi ? RateKind.BatchRequests : RateKind.Requests, requests, 1);
            SetHeaders(http, "requests", d);
            if (!d.Allowed)
            {
                await TooMany(http, d, $"Rate limit reached for {(batchApi ? "batch API requests" : "requests")} per min (RPM): Limit {d.Limit}.", "requests");
                return;
            }
        }
        var tokens = batchApi ? 0 : Limit(record.TokensPerMinute, options.DefaultTokensPerMinute);
        if (tokens > 0)
        {
            var estimate = peek?.EstimatedTokens ?? 1;
            var d = limiter.Acquire(record.Id, RateKind.Tokens, tokens, estimate);
            SetHeaders(http, "tokens", d);
            if (!d.Allowed)
            {
                await TooMany(http, d, d.TooLarge
                    ? $"Request too large for tokens per min (TPM): Limit {d.Limit}, Requested {estimate}."
                    : $"Rate limit reached for tokens per min (TPM): Limit {d.Limit}, Requested {estimate}.", "tokens");
                return;
            }
        }

        using var tenant = TenantContext.Enter(record.Tenant);
        await next(http);
    }

    private static long Limit(long? own, int fallback) => own ?? fallback;

    private static ApiError NoSuchModel(string model, string param, string where = "") => new(StatusCodes.Status404NotFound,
        $"The model '{Platform.Batch.UnsafeText.Printable(model)}'{where} does not exist or you do not have access to it.",
        ApiError.InvalidRequest, param, "model_not_found");

    private static string? BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) return null;
        var token = header[scheme.Length..].Trim();
        return token.Length is > 0 and <= 256 ? token : null;
    }

    private static Task Unauthorized(HttpContext http, string message, string code)
    {
        http.Response.Headers.WWWAuthenticate = "Bearer";
        return new ApiError(StatusCodes.Status401Unauthorized, message, ApiError.InvalidRequest, null, code).ToResult(http).ExecuteAsync(http);
    }

    /// <summary>OpenAI's headers: x-ratelimit-limit-{kind}, x-ratelimit-remaining-{kind}, x-ratelimit-reset-{kind}.</summary>
    private static void SetHeaders(HttpContext http, string kind, RateDecision d)
    {
        var h = http.Response.Headers;
        h[$"x-ratelimit-limit-{kind}"] = d.Limit.ToString(CultureInfo.InvariantCulture);
        h[$"x-ratelimit-remaining-{kind}"] = d.Remaining.ToString(CultureInfo.InvariantCulture);
        h[$"x-ratelimit-reset-{kind}"] = KeyRateLimiter.FormatDuration(d.Reset);
    }

    /// <summary>429 rate_limit_exceeded; Retry-After in whole seconds (none when the request can never fit).</summary>
    private static Task TooMany(HttpContext http, RateDecision d, string message, string type)
    {
        if (d.RetryAfter is { } after)
            http.Response.Headers.RetryAfter = Math.Max(1, (long)Math.Ceiling(after.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        return new ApiError(StatusCodes.Status429TooManyRequests, message, type, null, "rate_limit_exceeded").ToResult(http).ExecuteAsync(http);
    }
}
