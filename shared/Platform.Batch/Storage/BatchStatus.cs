namespace Platform.Batch.Storage;

/// <summary>OpenAI batch statuses: validating -> in_progress -> finalizing -> completed, or failed, expired,
/// cancelling -> cancelled.</summary>
public static class BatchStatus
{
    public const string Validating = "validating";
    public const string InProgress = "in_progress";
    public const string Finalizing = "finalizing";
    public const string Completed = "completed";
    public const string Failed = "failed";
    public const string Expired = "expired";
    public const string Cancelling = "cancelling";
    public const string Cancelled = "cancelled";

    public static readonly IReadOnlyList<string> All =
        [Validating, InProgress, Finalizing, Completed, Failed, Expired, Cancelling, Cancelled];

    public static bool IsTerminal(string status) =>
        status is Completed or Failed or Expired or Cancelled;
}
