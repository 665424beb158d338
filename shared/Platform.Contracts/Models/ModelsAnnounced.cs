namespace Platform.Contracts.Models;

/// <summary>
/// Published by a worker on start, periodically, and when asked (<see cref="ModelsAnnouncementRequested"/>).
/// Receivers drop the worker's entries when no new announcement arrives within <see cref="ValidFor"/>.
/// </summary>
public sealed record ModelsAnnounced(string WorkerId, string Service, IReadOnlyList<ServedModel> Models, DateTimeOffset AnnouncedAt, TimeSpan ValidFor);
