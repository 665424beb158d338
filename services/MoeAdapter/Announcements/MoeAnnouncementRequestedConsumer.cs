using MassTransit;
using MoeAdapter.Models;
using Platform.Contracts.Models;
using Platform.ServiceDefaults.Models;

namespace MoeAdapter.Announcements;

/// <summary>Answers a router that just started; runs on a temporary per-instance queue so every MoE worker hears it.</summary>
public sealed class MoeAnnouncementRequestedConsumer(ModelAnnouncer<MoeEngines> announcer) : IConsumer<ModelsAnnouncementRequested>
{
    public Task Consume(ConsumeContext<ModelsAnnouncementRequested> context) => announcer.AnnounceAsync(context.CancellationToken);
}
