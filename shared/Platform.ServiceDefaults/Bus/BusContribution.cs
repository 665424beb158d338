using MassTransit;

namespace Platform.ServiceDefaults.Bus;

/// <summary>
/// What one service adds to the process's single bus. Every service of an all-in-one process registers its
/// contribution first and <see cref="BusExtensions.AddPlatformBus"/> folds them into one AddMassTransit call
/// (MassTransit allows only one bus per container).
/// </summary>
public sealed class BusContribution
{
    public Action<IBusRegistrationConfigurator>? Register { get; init; }

    /// <summary>Extra receive endpoints, configured before <c>ConfigureEndpoints</c>.</summary>
    public Action<IBusRegistrationContext, IBusFactoryConfigurator>? Configure { get; init; }
}
