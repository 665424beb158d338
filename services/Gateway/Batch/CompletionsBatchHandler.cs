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
    TimeProvider time) : InProcessBatchHandler(services, batchOptions, time)
{
    public override string Endpoint => "/v1/completions";

    public override BatchBodyError? Validate(JsonElement body)
    {
        var (dto, readError) = Read<CompletionRequestDto>(body, "a completion request");
        if (readError is not null) return readError;
        if (dto!.Stream == true) return new BatchBodyError("Streaming is not supported in batches; remove 'stream'.", "stream");
        var (_, error) = CompletionRequestValidator.Validate(dto, gatewayOptions.Value);
        return error is null ? null : new BatchBodyError(error.Message, error.Param);
    }

    protected override async Task<IResult> RunAsync(HttpContext http, IServiceProvider scope) =>
        (await CompletionsEndpoint.HandleAsync(http,
            scope.GetRequiredService<ChatCompletionClient>(), scope.GetRequiredService<ModelDirectory>(),
            gatewayOptions, scope.GetRequiredService<TimeProvider>(), scope.GetRequiredService<ILoggerFactory>())).Result;
}
