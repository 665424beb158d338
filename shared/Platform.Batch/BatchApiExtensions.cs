using Dapr.Client;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Platform.Batch.Batches;
using Platform.Batch.Files;
using Platform.Batch.Processing;
using Platform.Batch.Storage;
using Platform.ServiceDefaults.Bus;
using Platform.ServiceDefaults.Dapr;
using Prometheus;

namespace Platform.Batch;

public static class BatchApiExtensions
{
    /// <summary>
    /// Registers the batch store (SQLite or PostgreSQL from Batch:Store), the coordinator and its background service,
    /// the metrics, and the batch-items consumer on the bus. Call before <see cref="BusExtensions.AddPlatformBus"/>.
    /// Each endpoint a batch may target needs an <see cref="IBatchEndpointHandler"/> registered by the host.
    /// </summary>
    public static IHostApplicationBuilder AddBatchApi(this IHostApplicationBuilder builder)
    {
        if (builder.Services.Any(d => d.ServiceType == typeof(BatchCoordinator))) return builder;
        builder.Services.AddOptions<BatchOptions>().Bind(builder.Configuration.GetSection(BatchOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.TryAddSingleton(TimeProvider.System);
        // Same choice as the service defaults: one registry per host, so hosts sharing a process keep their own series.
        if (!builder.Services.Any(d => d.ServiceType == typeof(CollectorRegistry)))
            builder.Services.AddSingleton(_ => Metrics.NewCustomRegistry());
        // The sidecar's client, unless the host registered one (AddPlatformDapr does when Dapr:Enabled).
        if (builder.Configuration.GetSection(BatchOptions.Section).Get<BatchOptions>()?.FileContentStore == FileContentStoreKind.Dapr)
            builder.Services.TryAddSingleton(_ => new DaprClientBuilder().Build());
        builder.Services.AddSingleton<IBatchStore>(sp =>
        {
            var o = sp.GetRequiredService<IOptions<BatchOptions>>().Value;
            var contents = o.FileContentStore == FileContentStoreKind.Dapr
                ? new DaprStateBlobStore(sp.GetRequiredService<DaprClient>(), o.DaprStateStore)
                : null;
            return o.Store == BatchStoreKind.Postgres
                ? new PostgresBatchStore(o.ConnectionString, o.PostgresSchema, o.Password) { FileContents = contents }
                : new SqliteBatchStore(o.ConnectionString) { FileContents = contents };
        });
        builder.Services.AddSingleton<BatchMetrics>();
        builder.Services.TryAddSingleton<IPlatformEvents, NoPlatformEvents>();
        builder.Services.AddSingleton<BatchCoordinator>();
        builder.Services.AddSingleton<BatchCoordinatorService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<BatchCoordinatorService>());
        // The same database holds blobs (generated images) for every replica.
        builder.Services.TryAddSingleton<IBlobStore>(sp => (IBlobStore)sp.GetRequiredService<IBatchStore>());
        // ... and the API keys (the gateway's key store).
        builder.Services.TryAddSingleton<IPlatformDatabase>(sp => (IPlatformDatabase)sp.GetRequiredService<IBatchStore>());
        builder.AddBusContribution(new BusContribution
        {
            Register = x => x.AddConsumer<ExecuteBatchItemConsumer, ExecuteBatchItemConsumerDefinition>(),
        });
        return builder;
    }

    /// <summary>Maps /v1/files and /v1/batches.</summary>
    public static IEndpointRouteBuilder MapBatchApi(this IEndpointRouteBuilder routes)
    {
        routes.MapFilesApi();
        routes.MapBatchesApi();
        return routes;
    }
}
