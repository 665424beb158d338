using System.Collections.Concurrent;
using MassTransit;
using Microsoft.Extensions.Options;
using Platform.Contracts.Chat;
using Platform.Contracts.Moe;
using Platform.ServiceDefaults.Chat;

namespace Gateway.Moe;

/// <summary>Asks a worker of an MoE model for its routing statistics on the model's routing queue (moe-routing-{model}).</summary>
public sealed class RoutingClient(IBus bus, IOptions<RoutingApiOptions> options)
{
    private readonly ConcurrentDictionary<string, IRequestClient<GetRoutingStatistics>> _clients = new();

    public async Task<RoutingStatisticsReported> GetAsync(string model, CancellationToken ct)
    {
        var seconds = options.Value.RequestTimeoutSeconds;
        var client = _clients.GetOrAdd(model, m => bus.CreateRequestClient<GetRoutingStatistics>(ImageTokenQueues.RoutingAddressForModel(m),
            RequestTimeout.After(ms: (int)(seconds * 1000))));
        try
        {
            var response = await client.GetResponse<RoutingStatisticsReported, RoutingStatisticsRejected>(new GetRoutingStatistics(NewId.NextGuid(), model), ct);
            if (response.Is(out Response<RoutingStatisticsReported>? ok) && ok is not null) return ok.Message;
            if (response.Is(out Response<RoutingStatisticsRejected>? rejected) && rejected is not null)
                throw new ChatCompletionException(rejected.Message.Code, rejected.Message.Message, "model");
            throw new ChatCompletionException(ChatErrorCodes.ServerError, "The MoE worker sent an unexpected response.");
        }
        catch (RequestTimeoutException ex)
        {
            throw new ChatCompletionException(ChatErrorCodes.WorkerUnavailable,
                $"No worker of model '{model}' answered the routing question within {seconds:0.#} s.", null, ex);
        }
    }
}

/// <summary>Settings of GET /v1/models/{id}/routing, section "RoutingApi".</summary>
public sealed class RoutingApiOptions
{
    public const string Section = "RoutingApi";

    /// <summary>How long the gateway waits for a worker's counts (they are read from memory: seconds are plenty).</summary>
    [System.ComponentModel.DataAnnotations.Range(0.1, 600)] public double RequestTimeoutSeconds { get; set; } = 10;
}
