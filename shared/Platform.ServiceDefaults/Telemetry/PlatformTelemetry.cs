using System.Diagnostics;

namespace Platform.ServiceDefaults.Telemetry;

/// <summary>The platform's own activity source; MassTransit's is "MassTransit".</summary>
public static class PlatformTelemetry
{
    public const string SourceName = "Platform";
    public static readonly ActivitySource Source = new(SourceName);
}
