using MassTransit;
using Microsoft.Extensions.Options;

namespace TextLlm;

/// <summary>Who this worker process is on the bus: its id and its own endpoint (for cancellations).</summary>
public sealed class WorkerIdentity(IOptions<TextLlmOptions> options, IBus bus)
{
    public string WorkerId { get; } = options.Value.ResolveInstanceId();

    public Uri ControlAddress => bus.Address;
}
