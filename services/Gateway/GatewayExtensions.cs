using Gateway.Endpoints;
using Gateway.Images;
using Gateway.Judge;
using Judge;
using ImageGen;
using Platform.ServiceDefaults;
using Platform.ServiceDefaults.Bus;
using Platform.ServiceDefaults.Chat;
using TextLlm;

namespace Gateway;

public static class GatewayExtensions
{
    /// <summary>
    /// The HTTP edge and, in all-in-one mode (Gateway:HostWorkers, default on the in-memory bus), the TextLlm and
    /// ImageGen workers in this process. Call AddPlatformBus after this and after any other service's Add method.
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

        var transport = builder.Configuration.GetSection(BusOptions.Section).Get<BusOptions>()?.Transport ?? BusTransport.InMemory;
        var hostWorkers = builder.Configuration.GetSection(GatewayOptions.Section).Get<GatewayOptions>()?.HostWorkers
                          ?? transport == BusTransport.InMemory;
        if (hostWorkers)
        {
            builder.AddTextLlmWorker();
            builder.AddImageGenWorker();
            builder.AddJudgeWorker(requireModels: false);
        }
        return builder;
    }

    /// <summary>/health, /alive, /metrics and the OpenAI-compatible /v1 group.</summary>
    public static WebApplication MapGateway(this WebApplication app)
    {
        app.MapServiceDefaults();
        var v1 = app.MapGroup("/v1");
        v1.MapPost("/chat/completions", ChatCompletionsEndpoint.HandleAsync);
        v1.MapGet("/models", ModelsEndpoint.List);
        v1.MapGet("/models/{id}", ModelsEndpoint.Get);
        v1.MapImages();
        v1.MapJudge();
        return app;
    }
}
