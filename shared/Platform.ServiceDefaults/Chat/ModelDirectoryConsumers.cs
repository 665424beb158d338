using MassTransit;
using Platform.Contracts.Models;

namespace Platform.ServiceDefaults.Chat;

/// <summary>Feeds <see cref="ModelDirectory"/>. Runs on a temporary per-instance queue so every router hears every worker.</summary>
public sealed class ModelsAnnouncedConsumer(ModelDirectory directory) : IConsumer<ModelsAnnounced>, IConsumer<ModelsWithdrawn>
{
    public Task Consume(ConsumeContext<ModelsAnnounced> context)
    {
        directory.Apply(context.Message);
        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<ModelsWithdrawn> context)
    {
        directory.Withdraw(context.Message.WorkerId);
        return Task.CompletedTask;
    }
}
