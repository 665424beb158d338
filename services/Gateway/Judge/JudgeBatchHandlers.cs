using System.Text;
using System.Text.Json;
using Gateway.OpenAi;
using Microsoft.Extensions.Options;
using Platform.Batch;
using Platform.Batch.Processing;
using Platform.Contracts.Chat;
using Platform.ServiceDefaults.Chat;

namespace Gateway.Judge;

/// <summary>
/// Batch lines for the judge endpoints, run through the very handlers interactive clients call (same validation,
/// model checks, routing and JSON), so a file of thousands of pairs is judged offline with the Batch API.
/// </summary>
public abstract class JudgeBatchHandler(IServiceProvider services, IOptions<BatchOptions> batchOptions, TimeProvider time) : IBatchEndpointHandler
{
    public abstract string Endpoint { get; }

    protected abstract Type BodyType { get; }

    protected abstract Task<IResult> RunAsync(HttpContext http, IServiceProvider scope);

    public BatchBodyError? Validate(JsonElement body)
    {
        try
        {
            return body.Deserialize(BodyType, OpenAiJson.Options) is null ? new BatchBodyError("The body must be a JSON object.", null) : null;
        }
        catch (JsonException ex)
        {
            return new BatchBodyError($"The body could not be read as a {Endpoint} request: {ex.Message}", ex.Path?.TrimStart('$', '.'));
        }
    }

    public async Task<BatchItemResponse> ExecuteAsync(JsonElement body, DateTimeOffset firstDispatchedAt, CancellationToken cancellationToken)
    {
        var requestId = "req_" + Guid.NewGuid().ToString("N");
        await using var scope = services.CreateAsyncScope();
        var bytes = Encoding.UTF8.GetBytes(body.GetRawText());
        var http = new DefaultHttpContext { RequestServices = scope.ServiceProvider, RequestAborted = cancellationToken };
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
        // No judge worker now (503), judge failed (500): the item waits and runs again later.
        if (status is StatusCodes.Status503ServiceUnavailable or StatusCodes.Status429TooManyRequests or >= 500)
            throw new BatchItemTransientException($"HTTP {status}: {text}");
        if (status == StatusCodes.Status404NotFound && text.Contains(ChatErrorCodes.ModelNotFound, StringComparison.Ordinal)
            && time.GetUtcNow() - firstDispatchedAt < TimeSpan.FromSeconds(batchOptions.Value.ModelWaitSeconds))
            throw new BatchItemTransientException($"judge model not served yet: {text}");
        return new BatchItemResponse(status, requestId, text);
    }

    protected static (JudgeClient, ModelDirectory, IOptions<GatewayOptions>, TimeProvider) Services(IServiceProvider sp) =>
        (sp.GetRequiredService<JudgeClient>(), sp.GetRequiredService<ModelDirectory>(), sp.GetRequiredService<IOptions<GatewayOptions>>(), sp.GetRequiredService<TimeProvider>());
}

public sealed class JudgeRatingsBatchHandler(IServiceProvider services, IOptions<BatchOptions> batchOptions, TimeProvider time)
    : JudgeBatchHandler(services, batchOptions, time)
{
    public override string Endpoint => JudgeEndpoints.RatingsPath;
    protected override Type BodyType => typeof(JudgeRatingRequestDto);

    protected override async Task<IResult> RunAsync(HttpContext http, IServiceProvider scope)
    {
        var (client, directory, options, clock) = Services(scope);
        return (await JudgeEndpoints.RateAsync(http, client, directory, options, clock)).Result;
    }
}

public sealed class JudgeComparisonsBatchHandler(IServiceProvider services, IOptions<BatchOptions> batchOptions, TimeProvider time)
    : JudgeBatchHandler(services, batchOptions, time)
{
    public override string Endpoint => JudgeEndpoints.ComparisonsPath;
    protected override Type BodyType => typeof(JudgeComparisonRequestDto);

    protected override async Task<IResult> RunAsync(HttpContext http, IServiceProvider scope)
    {
        var (client, directory, options, clock) = Services(scope);
        return (await JudgeEndpoints.CompareAsync(http, client, directory, options, clock)).Result;
    }
}
