using MassTransit;
using Platform.Contracts.Models;
using Platform.ServiceDefaults.Models;
using TextLlm.Models;

namespace TextLlm.Announcements;

/// <summary>Answers a router that just started; runs on a temporary per-instance queue so every worker hears it.</summary>
public sealed class ModelsAnnouncementRequestedConsumer(ModelAnnouncer<EngineHost> announcer) : IConsumer<ModelsAnnouncementRequested>
{
    public Task Consume(ConsumeContext<ModelsAnnouncementRequested> context) => announcer.AnnounceAsync(context.CancellationToken);
}
