using MassTransit;
using Platform.Contracts.Models;
using Platform.ServiceDefaults.Models;
using Judge.Models;

namespace Judge.Announcements;

/// <summary>Answers a router that just started; runs on a temporary per-instance queue so every judge worker hears it.</summary>
public sealed class JudgeAnnouncementRequestedConsumer(ModelAnnouncer<JudgeEngines> announcer) : IConsumer<ModelsAnnouncementRequested>
{
    public Task Consume(ConsumeContext<ModelsAnnouncementRequested> context) => announcer.AnnounceAsync(context.CancellationToken);
}
