using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Platform.ServiceDefaults.Bus;

public static class BusExtensions
{
    /// <summary>
    /// Unique per process: the suffix of temporary per-instance queues (a temporary endpoint without it gets the same
    /// exclusive queue name in every process, and the second process to declare it fails with RESOURCE_LOCKED).
    /// </summary>
    public static string InstanceSuffix { get; } = $"{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..12]}";

    /// <summary>Adds consumers or endpoints to the bus that <see cref="AddPlatformBus"/> builds later.</summary>
    public static IHostApplicationBuilder AddBusContribution(this IHostApplicationBuilder builder, BusContribution contribution)
    {
        builder.Services.AddSingleton(contribution);
        return builder;
    }

    /// <summary>
    /// Builds the one MassTransit bus of this process from every <see cref="BusContribution"/> registered so far:
    /// in-memory by default, RabbitMQ when Bus:Transport is RabbitMq. Call once, after the services' Add* methods.
    /// </summary>
    public static IHostApplicationBuilder AddPlatformBus(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<BusOptions>().Bind(builder.Configuration.GetSection(BusOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        var options = builder.Configuration.GetSection(BusOptions.Section).Get<BusOptions>() ?? new BusOptions();
        var contributions = builder.Services
            .Where(d => d.ServiceType == typeof(BusContribution) && d.ImplementationInstance is BusContribution)
            .Select(d => (BusContribution)d.ImplementationInstance!)
            .ToList();

        builder.Services.AddMassTransit(x =>
        {
            x.SetKebabCaseEndpointNameFormatter();
            foreach (var c in contributions) c.Register?.Invoke(x);

            void Configure<T>(IBusRegistrationContext context, IBusFactoryConfigurator<T> cfg) where T : IReceiveEndpointConfigurator
            {
                var retry = context.GetRequiredService<IOptions<BusOptions>>().Value.RetryIntervalsMs;
                if (retry.Length > 0) cfg.UseMessageRetry(r => r.Intervals(retry));
                foreach (var c in contributions) c.Configure?.Invoke(context, cfg);
                cfg.ConfigureEndpoints(context);
            }

            if (options.Transport == BusTransport.RabbitMq)
            {
                x.UsingRabbitMq((context, cfg) =>
                {
                    var o = context.GetRequiredService<IOptions<BusOptions>>().Value.RabbitMq;
                    cfg.Host(o.Host, (ushort)o.Port, o.VirtualHost, h =>
                    {
                        h.Username(o.Username);
                        h.Password(o.Password);
                    });
                    Configure(context, cfg);
                });
            }
            else
            {
                x.UsingInMemory((context, cfg) => Configure(context, cfg));
            }
        });
        var drain = TimeSpan.FromSeconds(builder.Configuration.GetSection(BusOptions.Section).Get<BusOptions>()?.DrainSeconds ?? 10);
        builder.Services.Configure<MassTransitHostOptions>(o =>
        {
            // Without this the host reports started before the bus is (see ENVIRONMENT.md).
            o.WaitUntilStarted = true;
            o.StartTimeout = TimeSpan.FromSeconds(60);
            // Stopping: no new messages, running consumers finish within Bus:DrainSeconds, then are cancelled.
            o.ConsumerStopTimeout = drain;
            o.StopTimeout = drain + TimeSpan.FromSeconds(5);
        });
        return builder;
    }
}
