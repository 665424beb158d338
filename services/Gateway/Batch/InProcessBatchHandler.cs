using System.Text;
using System.Text.Json;
using Gateway.Images;
using Microsoft.Extensions.Options;
using Platform.Batch;
using Platform.Batch.Processing;
using Platform.Contracts.Chat;

namespace Gateway.Batch;

/// <summary>
/// A batch line run through the very endpoint handler interactive clients call (same validation, model checks,
/// routing over the bus and response JSON), so a batch result is byte-for-byte what the interactive call answers.
/// The line's body becomes an in-process request; its status decides whether the item is done or runs again later.
/// </summary>
public abstract class InProcessBatchHandler(IServiceProvider services, IOptions<BatchOptions> batchOptions, TimeProvider time) : IBatchEndpointHandler
{
    public abstract string Endpoint { get; }

    public abstract BatchBodyError? Validate(JsonElement body);

    /// <summary>Reads a line's body as <typeparamref name="T"/> for validation; a body that does not read is an error.</summary>
    protected static (T? Dto, BatchBodyError? Error) Read<T>(JsonElement body, string what) where T : class
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

    /// <summary>Runs the endpoint's handler on the in-process request.</summary>
    protected abstract Task<IResult> RunAsync(HttpContext http, IServiceProvider scope);

    public async Task<BatchItemResponse> ExecuteAsync(JsonElement body, DateTimeOffset firstDispatchedAt, CancellationToken cancellationToken)
    {
        var requestId = "req_" + Guid.NewGuid().ToString("N");
        await using var scope = services.CreateAsyncScope();
        var bytes = Encoding.UTF8.GetBytes(body.GetRawText());
        var http = new DefaultHttpContext { RequestServices = scope.ServiceProvider, RequestAborted = cancellationToken };
        // URLs in the result (generated images) are read later from any replica: build them from the public base,
        // not from this in-process request, which has no scheme or host of its own.
        var publicBase = new Uri(scope.ServiceProvider.GetRequiredService<ImageResults>().BackgroundBaseUrl());
        http.Request.Scheme = publicBase.Scheme;
        http.Request.Host = new HostString(publicBase.Authority);
        http.Request.Method = HttpMethods.Post;
        http.Request.Path = Endpoint;
        http.Request.ContentType = "application/json";
        http.Request.ContentLength = bytes.Length;
        http.Request.Body = new MemoryStream(bytes);
        var responseBody = new MemoryStream();
        http.Response.Body = responseBody;

        var result = await RunAsync(http, scope.ServiceProvider);
        await result.ExecuteAsync(http);
        var status = http.Response.StatusCode;
        var text = Encoding.UTF8.GetString(responseBody.ToArray());

        // No worker now (503), queue full (429), worker failed (500): the item waits and runs again later.
        if (status is StatusCodes.Status503ServiceUnavailable or StatusCodes.Status429TooManyRequests or >= 500)
            throw new BatchItemTransientException($"HTTP {status}: {text}");
        // An unknown model may be a worker that is restarting: wait for it up to Batch:ModelWaitSeconds.
        if (status == StatusCodes.Status404NotFound && text.Contains(ChatErrorCodes.ModelNotFound, StringComparison.Ordinal)
            && time.GetUtcNow() - firstDispatchedAt < TimeSpan.FromSeconds(batchOptions.Value.ModelWaitSeconds))
            throw new BatchItemTransientException($"model not served yet: {text}");
        return new BatchItemResponse(status, requestId, text);
    }
}
