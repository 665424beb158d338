using System.Text.Json;
using Gateway.Endpoints;
using Gateway.OpenAi;
using Gateway.Validation;
using Microsoft.Extensions.Options;
using Platform.Batch;
using Platform.Batch.Processing;
using Platform.ServiceDefaults.Chat;

namespace Gateway.Batch;

/// <summary>Batch lines for /v1/completions, run through <see cref="CompletionsEndpoint.HandleAsync"/>.</summary>
public sealed class CompletionsBatchHandler(
    IServiceProvider services,
    IOptions<GatewayOptions> gatewayOptions,
    IOptions<BatchOptions> batchOptions,
    TimeProvider time) : IBatchEndpointHandler
{
    public string Endpoint => "/v1/completions";

    public BatchBodyError? Validate(JsonElement body)
    {
        var (dto, readError) = EndpointBatchRunner.Read<CompletionRequestDto>(body, "a completion request");
        if (readError is not null) return readError;
        if (dto!.Stream == true) return new BatchBodyError("Streaming is not supported in batches; remove 'stream'.", "stream");
        var (_, error) = CompletionRequestValidator.Validate(dto, gatewayOptions.Value);
        return error is null ? null : new BatchBodyError(error.Message, error.Param);
    }

    public Task<BatchItemResponse> ExecuteAsync(JsonElement body, DateTimeOffset firstDispatchedAt, CancellationToken cancellationToken) =>
        EndpointBatchRunner.RunAsync(services, Endpoint, body, async (http, sp) => (await CompletionsEndpoint.HandleAsync(http,
                sp.GetRequiredService<ChatCompletionClient>(), sp.GetRequiredService<ModelDirectory>(),
                gatewayOptions, time, sp.GetRequiredService<ILoggerFactory>())).Result,
            batchOptions.Value, time, firstDispatchedAt, cancellationToken);
}
