using Gateway.Endpoints;
using Gateway.Images;
using Gateway.Judge;
using Gateway.Security;
using Platform.ServiceDefaults;
using Platform.ServiceDefaults.Bus;
using Platform.ServiceDefaults.Chat;

namespace Gateway;

public static class GatewayExtensions
{
    /// <summary>The gateway's own settings file, next to its assembly (loaded by its Program.cs).</summary>
    public const string SettingsFile = "gateway.settings.json";

    /// <summary>
    /// The HTTP edge: OpenAI-compatible API, images, model directory, chat client. The workers are other services (or,
    /// in services/AllInOne, registered beside it). Call AddPlatformBus after this and after any other service's Add.
    /// </summary>
    public static WebApplicationBuilder AddGateway(this WebApplicationBuilder builder)
    {
        builder.AddServiceDefaults("gateway");
        builder.Services.AddOptions<GatewayOptions>().Bind(builder.Configuration.GetSection(GatewayOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.AddChatCompletionClient();
        builder.AddGatewayImages();
        builder.AddGatewayJudge();
        builder.AddGatewaySecurity(); // API keys, tenants, rate limits, CORS, connection limits
        builder.Services.AddSingleton<Gateway.Embeddings.EmbeddingsClient>();
        builder.Services.AddOptions<Gateway.Moe.RoutingApiOptions>().Bind(builder.Configuration.GetSection(Gateway.Moe.RoutingApiOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<Gateway.Moe.RoutingClient>();
        return builder;
    }

    /// <summary>/health, /alive, /metrics and the OpenAI-compatible /v1 group.</summary>
    public static WebApplication MapGateway(this WebApplication app)
    {
        app.UseGatewaySecurity();
        app.MapServiceDefaults();
        var v1 = app.MapGroup("/v1");
        v1.MapPost("/chat/completions", ChatCompletionsEndpoint.HandleAsync);
        v1.MapPost("/completions", CompletionsEndpoint.HandleAsync);
        v1.MapPost("/embeddings", Gateway.Embeddings.EmbeddingsEndpoint.HandleAsync);
        v1.MapGet("/models", ModelsEndpoint.List);
        v1.MapGet("/models/{id}", ModelsEndpoint.Get);
        v1.MapGet("/models/{id}/routing", Gateway.Moe.RoutingEndpoint.GetAsync);
        v1.MapImages();
        v1.MapJudge();
        return app;
    }
}
