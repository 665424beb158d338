using System.Text.Json;
using Gateway.Batch;
using Gateway.OpenAi;
using Microsoft.Extensions.Options;
using Platform.Batch;
using Platform.Batch.Processing;
using Platform.ServiceDefaults.Chat;

namespace Gateway.Judge;

/// <summary>
/// Batch lines for the judge endpoints, run through the very handlers interactive clients call, so a file of
/// thousands of pairs is judged offline with the Batch API.
/// </summary>
public abstract class JudgeBatchHandler(IServiceProvider services, IOptions<BatchOptions> batchOptions, TimeProvider time)
    : InProcessBatchHandler(services, batchOptions, time)
{
    protected abstract Type BodyType { get; }

    public override BatchBodyError? Validate(JsonElement body)
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
