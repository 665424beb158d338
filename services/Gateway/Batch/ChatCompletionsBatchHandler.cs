using System.Text;
using System.Text.Json;
using Gateway.Endpoints;
using Gateway.Images;
using Gateway.OpenAi;
using Gateway.Validation;
using Microsoft.Extensions.Options;
using Platform.Batch;
using Platform.Batch.Processing;
using Platform.Contracts.Chat;
using Platform.ServiceDefaults.Chat;

namespace Gateway.Batch;

/// <summary>
/// Batch lines for /v1/chat/completions, run through the very endpoint interactive clients call
/// (<see cref="ChatCompletionsEndpoint.HandleAsync"/>): same validation, model checks, worker routing over the bus
/// and response JSON, so a batch result is byte-for-byte what the interactive call would have answered.
/// </summary>
public sealed class ChatCompletionsBatchHandler(
    IServiceProvider services,
    IOptions<GatewayOptions> gatewayOptions,
    IOptions<BatchOptions> batchOptions,
    TimeProvider time) : IBatchEndpointHandler
{
    public string Endpoint => "/v1/chat/completions";

    public BatchBodyError? Validate(JsonElement body)
    {
        ChatCompletionRequestDto? dto;
        try
        {
            dto = body.Deserialize<ChatCompletionRequestDto>(OpenAiJson.Options);
        }
        catch (JsonException ex)
        {
            return new BatchBodyError($"The body could not be read as a chat completion request: {ex.Message}", ex.Path?.TrimStart('$', '.'));
        }
        if (dto is null) return new BatchBodyError("The body must be a JSON object.", null);
        if (dto.Stream == true) return new BatchBodyError("Streaming is not supported in batches; remove 'stream'.", "stream");
        var (_, error) = ChatRequestValidator.Validate(dto, gatewayOptions.Value);
        return error is null ? null : new BatchBodyError(error.Message, error.Param);
    }

    public async Task<BatchItemResponse> ExecuteAsync(JsonElement body, DateTimeOffset firstDispatchedAt, CancellationToken cancellationToken)
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
        http.Request.Path = Endpoint;
        http.Request.ContentType = "application/json";
        http.Request.ContentLength = bytes.Length;
        http.Request.Body = new MemoryStream(bytes);
        var responseBody = new MemoryStream();
        http.Response.Body = responseBody;

        var result = await ChatCompletionsEndpoint.HandleAsync(http,
            scope.ServiceProvider.GetRequiredService<ChatCompletionClient>(),
            scope.ServiceProvider.GetRequiredService<ModelDirectory>(),
            gatewayOptions, time, scope.ServiceProvider.GetRequiredService<ILoggerFactory>());
        await result.Result.ExecuteAsync(http);
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

public static class GatewayBatchExtensions
{
    /// <summary>The Files and Batch APIs with chat completions as their endpoint. Call before AddPlatformBus.</summary>
    public static WebApplicationBuilder AddGatewayBatch(this WebApplicationBuilder builder)
    {
        builder.AddBatchApi();
        builder.Services.AddSingleton<IBatchEndpointHandler, ChatCompletionsBatchHandler>();
        return builder;
    }
}
