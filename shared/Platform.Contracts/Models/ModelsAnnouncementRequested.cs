namespace Platform.Contracts.Models;

/// <summary>Published by a router (gateway) that starts, so every worker announces its models without waiting a period.</summary>
public sealed record ModelsAnnouncementRequested(string RequestedBy);
