using System.ComponentModel.DataAnnotations;

namespace Platform.ServiceDefaults.Bus;

public enum BusTransport { InMemory, RabbitMq }

/// <summary>Bus settings, section "Bus". In-memory unless <see cref="Transport"/> says RabbitMq.</summary>
public sealed class BusOptions : IValidatableObject
{
    public const string Section = "Bus";

    public BusTransport Transport { get; set; } = BusTransport.InMemory;

    public RabbitMqOptions RabbitMq { get; set; } = new();

    /// <summary>
    /// Graceful stop (SIGTERM): consumers get this long to finish what they run (a worker completes its streams)
    /// after the process stopped taking messages; then their cancellation fires and a stream still running ends with
    /// a clean worker_unavailable error. Keep it under HostOptions:ShutdownTimeout and the pod's grace period.
    /// </summary>
    [Range(1, 3600)] public double DrainSeconds { get; set; } = 10;

    /// <summary>Retries for a consumer that throws a transient exception (milliseconds between tries).</summary>
    public int[] RetryIntervalsMs { get; set; } = [100, 500, 1000];

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Transport == BusTransport.RabbitMq)
        {
            if (string.IsNullOrWhiteSpace(RabbitMq.Host))
                yield return new ValidationResult("Bus:RabbitMq:Host is required when Bus:Transport is RabbitMq.", ["RabbitMq.Host"]);
            if (RabbitMq.Port is < 1 or > 65535)
                yield return new ValidationResult($"Bus:RabbitMq:Port {RabbitMq.Port} is not a TCP port.", ["RabbitMq.Port"]);
        }
        if (RetryIntervalsMs.Any(ms => ms < 0))
            yield return new ValidationResult("Bus:RetryIntervalsMs must not be negative.", [nameof(RetryIntervalsMs)]);
    }
}

public sealed class RabbitMqOptions
{
    public string Host { get; set; } = "127.0.0.1";
    public int Port { get; set; } = 5672;
    public string VirtualHost { get; set; } = "/";
    public string Username { get; set; } = "guest";
    public string Password { get; set; } = "guest";
}
