using System.Text.Json;
using Gateway.Endpoints;
using Gateway.OpenAi;
using Gateway.Validation;
using Microsoft.Extensions.Options;
using Platform.Batch;
using Platform.Batch.Processing;
using Platform.ServiceDefaults.Chat;

namespace Gateway.Batch;

/// <summary>Batch lines for /v1/chat/completions, run through <see cref="ChatCompletionsEndpoint.HandleAsync"/>.</summary>
public sealed class ChatCompletionsBatchHandler(
    IServiceProvider services,
    IOptions<GatewayOptions> gatewayOptions,
    IOptions<BatchOptions> batchOptions,
    TimeProvider time) : InProcessBatchHandler(services, batchOptions, time)
{
    public override string Endpoint => "/v1/chat/completions";

    public override BatchBodyError? Validate(JsonElement body)
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

    protected override async Task<IResult> RunAsync(HttpContext http, IServiceProvider scope) =>
        (await ChatCompletionsEndpoint.HandleAsync(http,
            scope.GetRequiredService<ChatCompletionClient>(),
            scope.GetRequiredService<ModelDirectory>(),
            gatewayOptions, scope.GetRequiredService<TimeProvider>(), scope.GetRequiredService<ILoggerFactory>())).Result;
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
