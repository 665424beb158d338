using System.Text.Json;

namespace Platform.Batch.Processing;

/// <summary>A body that the endpoint would reject with 400: the message and the offending parameter.</summary>
public sealed record BatchBodyError(string Message, string? Param);

/// <summary>What one request produced: the HTTP status it would have had and its JSON body (result or OpenAI error).</summary>
public sealed record BatchItemResponse(int StatusCode, string RequestId, string Body);

/// <summary>
/// A request that could not run now but may later (no worker, queue full, worker gone); the consumer lets the bus
/// redeliver it instead of writing a result.
/// </summary>
public sealed class BatchItemTransientException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Runs the request lines of one OpenAI endpoint ("/v1/chat/completions").</summary>
public interface IBatchEndpointHandler
{
    string Endpoint { get; }

    /// <summary>Checks a line's body as the endpoint would; null when valid.</summary>
    BatchBodyError? Validate(JsonElement body);

    /// <summary>
    /// Executes one body. Returns the response (2xx, or a 4xx with an OpenAI error body for a request that fails at
    /// run time); throws <see cref="BatchItemTransientException"/> when it should be retried later.
    /// </summary>
    Task<BatchItemResponse> ExecuteAsync(JsonElement body, DateTimeOffset firstDispatchedAt, CancellationToken cancellationToken);
}
