using Dapr.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Platform.ServiceDefaults.Dapr;

public static class DaprExtensions
{
    /// <summary>
    /// With Dapr:Enabled: credentials from the Dapr secret store (a configuration source added last), a DaprClient,
    /// and <see cref="DaprPlatformEvents"/> as <see cref="IPlatformEvents"/>. Without: events go nowhere.
    /// </summary>
    public static IHostApplicationBuilder AddPlatformDapr(this IHostApplicationBuilder builder, Func<DaprClient>? client = null)
    {
        builder.Services.AddOptions<DaprOptions>().Bind(builder.Configuration.GetSection(DaprOptions.Section)).ValidateDataAnnotations();
        var options = builder.Configuration.GetSection(DaprOptions.Section).Get<DaprOptions>() ?? new DaprOptions();
        if (!options.Enabled)
        {
            builder.Services.TryAddSingleton<IPlatformEvents, NoPlatformEvents>();
            return builder;
        }
        client ??= () => new DaprClientBuilder().Build();
        if (!string.IsNullOrEmpty(options.BrokerSecret) || !string.IsNullOrEmpty(options.DatabaseSecret))
            builder.Configuration.Add(new DaprSecretsConfigurationSource(options, client));
        builder.Services.TryAddSingleton(_ => client());
        builder.Services.TryAddSingleton<IPlatformEvents, DaprPlatformEvents>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddHostedService<WorkerEventsPublisher>();
        return builder;
    }
}
