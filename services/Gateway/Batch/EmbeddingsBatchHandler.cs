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
    TimeProvider time) : InProcessBatchHandler(services, batchOptions, time)
{
    public override string Endpoint => "/v1/embeddings";

    public override BatchBodyError? Validate(JsonElement body)
    {
        var (dto, readError) = Read<EmbeddingRequestDto>(body, "an embeddings request");
        if (readError is not null) return readError;
        var error = EmbeddingsEndpoint.Validate(dto!);
        return error is null ? null : new BatchBodyError(error.Message, error.Param);
    }

    protected override async Task<IResult> RunAsync(HttpContext http, IServiceProvider scope) =>
        (await EmbeddingsEndpoint.HandleAsync(http,
            scope.GetRequiredService<EmbeddingsClient>(), scope.GetRequiredService<ModelDirectory>(), gatewayOptions)).Result;
}
