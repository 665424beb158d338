using MassTransit;
using Microsoft.Extensions.Options;
using MoeAdapter.Models;
using Platform.Contracts.Chat;
using Platform.Contracts.Moe;

namespace MoeAdapter.Routing;

/// <summary>Answers a routing question on the model's routing queue (moe-routing-{model}) with this worker's counts.</summary>
public sealed class GetRoutingStatisticsConsumer(MoeEngines engines, IOptions<MoeAdapterOptions> options) : IConsumer<GetRoutingStatistics>
{
    public async Task Consume(ConsumeContext<GetRoutingStatistics> context)
    {
        var m = context.Message;
        if (!engines.Models.TryGetValue(m.Model, out var model) || model.Engine.Model.Routing is not { } stats)
        {
            await context.RespondAsync(new RoutingStatisticsRejected(m.RequestId, ChatErrorCodes.ModelNotFound,
                $"The model '{m.Model}' is not served by worker '{engines.WorkerId}'."));
            return;
        }
        await context.RespondAsync(RoutingReport.From(m.RequestId, m.Model, engines.WorkerId, stats, TopK(model),
            options.Value.SpecificExpertThreshold));
    }

    internal static int TopK(MoeModel model) =>
        model.Engine.Model.Config is Platform.Inference.Models.Moe.MoeConfig moe ? moe.ExpertsPerToken : 0;
}
