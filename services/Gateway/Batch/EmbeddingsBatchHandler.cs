using System.Text.Json;
using Gateway.Embeddings;
using Gateway.OpenAi;
using Microsoft.Extensions.Options;
using Platform.Batch;
using Platform.Batch.Processing;
using Platform.ServiceDefaults.Chat;

namespace Gateway.Batch;

/// <summary>Batch lines for /v1/embeddings, run through <see cref="EmbeddingsEndpoint.HandleAsync"/>.</summary>
public sealed class EmbeddingsBatchHandler(
    IServiceProvider services,
    IOptions<GatewayOptions> gatewayOptions,
    IOptions<BatchOptions> batchOptions,
    TimeProvider time) : IBatchEndpointHandler
{
    public string Endpoint => "/v1/embeddings";

    public BatchBodyError? Validate(JsonElement body)
    {
        var (dto, readError) = EndpointBatchRunner.Read<EmbeddingRequestDto>(body, "an embeddings request");
        if (readError is not null) return readError;
        var error = EmbeddingsEndpoint.Validate(dto!);
        return error is null ? null : new BatchBodyError(error.Message, error.Param);
    }

    public Task<BatchItemResponse> ExecuteAsync(JsonElement body, DateTimeOffset firstDispatchedAt, CancellationToken cancellationToken) =>
        EndpointBatchRunner.RunAsync(services, Endpoint, body, async (http, sp) => (await EmbeddingsEndpoint.HandleAsync(http,
                sp.GetRequiredService<EmbeddingsClient>(), sp.GetRequiredService<ModelDirectory>(), gatewayOptions)).Result,
            batchOptions.Value, time, firstDispatchedAt, cancellationToken);
}
