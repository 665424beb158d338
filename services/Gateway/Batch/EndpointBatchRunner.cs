using System.Text;
using System.Text.Json;
using Gateway.Images;
using Platform.Batch;
using Platform.Batch.Processing;
using Platform.Contracts.Chat;

namespace Gateway.Batch;

/// <summary>
/// Runs one batch line through the very endpoint handler interactive clients call, on an in-process HTTP context:
/// same validation, model checks, worker routing over the bus and response JSON, so a batch result is byte-for-byte
/// what the interactive call would have answered. Retryable outcomes throw <see cref="BatchItemTransientException"/>.
/// </summary>
public static class EndpointBatchRunner
{
    public static async Task<BatchItemResponse> RunAsync(IServiceProvider services, string endpoint, JsonElement body,
        Func<HttpContext, IServiceProvider, Task<IResult>> handle, BatchOptions batchOptions, TimeProvider time,
        DateTimeOffset firstDispatchedAt, CancellationToken cancellationToken)
    {
        var requestId = "req_" + Guid.NewGuid().ToString("N");
        await using var scope = services.CreateAsyncScope();
        var bytes = Encoding.UTF8.GetBytes(body.GetRawText());
        var http = new DefaultHttpContext { RequestServices = scope.ServiceProvider, RequestAborted = cancellationToken };
        // Image URLs in the result are read later from any replica: build them from the public base, not from this
        // in-process request, which has no scheme or host.
        var publicBase = new Uri(scope.ServiceProvider.GetRequiredService<ImageResults>().BackgroundBaseUrl());
        http.Request.Scheme = publicBase.Scheme;
        http.Request.Host = new HostString(publicBase.Authority);
        http.Request.Method = HttpMethods.Post;
        http.Request.Path = endpoint;
        http.Request.ContentType = "application/json";
        http.Request.ContentLength = bytes.Length;
        http.Request.Body = new MemoryStream(bytes);
        var responseBody = new MemoryStream();
        http.Response.Body = responseBody;

        var result = await handle(http, scope.ServiceProvider);
        await result.ExecuteAsync(http);
        var status = http.Response.StatusCode;
        var text = Encoding.UTF8.GetString(responseBody.ToArray());

        // No worker now (503), queue full (429), worker failed (500): the item waits and runs again later.
        if (status is StatusCodes.Status503ServiceUnavailable or StatusCodes.Status429TooManyRequests or >= 500)
            throw new BatchItemTransientException($"HTTP {status}: {text}");
        // An unknown model may be a worker that is restarting: wait for it up to Batch:ModelWaitSeconds.
        if (status == StatusCodes.Status404NotFound && text.Contains(ChatErrorCodes.ModelNotFound, StringComparison.Ordinal)
            && time.GetUtcNow() - firstDispatchedAt < TimeSpan.FromSeconds(batchOptions.ModelWaitSeconds))
            throw new BatchItemTransientException($"model not served yet: {text}");
        return new BatchItemResponse(status, requestId, text);
    }

    /// <summary>Reads a line's body as <typeparamref name="T"/> for validation; a body that does not read is an error.</summary>
    public static (T? Dto, BatchBodyError? Error) Read<T>(JsonElement body, string what) where T : class
    {
        try
        {
            var dto = body.Deserialize<T>(OpenAi.OpenAiJson.Options);
            return dto is null ? (null, new BatchBodyError("The body must be a JSON object.", null)) : (dto, null);
        }
        catch (JsonException ex)
        {
            return (null, new BatchBodyError($"The body could not be read as {what}: {ex.Message}", ex.Path?.TrimStart('$', '.')));
        }
    }
}
