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

    public Task<BatchItemResponse> ExecuteAsync(JsonElement body, DateTimeOffset firstDispatchedAt, CancellationToken cancellationToken) =>
        EndpointBatchRunner.RunAsync(services, Endpoint, body, async (http, sp) => (await ChatCompletionsEndpoint.HandleAsync(http,
                sp.GetRequiredService<ChatCompletionClient>(), sp.GetRequiredService<ModelDirectory>(),
                gatewayOptions, time, sp.GetRequiredService<ILoggerFactory>())).Result,
            batchOptions.Value, time, firstDispatchedAt, cancellationToken);
}

public static class GatewayBatchExtensions
{
    /// <summary>The Files and Batch APIs with chat completions, completions and embeddings as their endpoints. Call before AddPlatformBus.</summary>
    public static WebApplicationBuilder AddGatewayBatch(this WebApplicationBuilder builder)
    {
        builder.AddBatchApi();
        builder.Services.AddSingleton<IBatchEndpointHandler, ChatCompletionsBatchHandler>();
        builder.Services.AddSingleton<IBatchEndpointHandler, CompletionsBatchHandler>();
        builder.Services.AddSingleton<IBatchEndpointHandler, EmbeddingsBatchHandler>();
        return builder;
    }
}
