using Platform.Batch.Processing;

namespace Gateway.Judge;

public static class GatewayJudgeExtensions
{
    /// <summary>The judge API's client and its batch endpoints (used when the Batch API is added).</summary>
    public static WebApplicationBuilder AddGatewayJudge(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<JudgeApiOptions>().Bind(builder.Configuration.GetSection(JudgeApiOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<JudgeClient>();
        builder.Services.AddSingleton<IBatchEndpointHandler, JudgeRatingsBatchHandler>();
        builder.Services.AddSingleton<IBatchEndpointHandler, JudgeComparisonsBatchHandler>();
        return builder;
    }
}
