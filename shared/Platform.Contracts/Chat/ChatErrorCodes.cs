namespace Platform.Contracts.Chat;

/// <summary>Error codes carried on the bus; they match OpenAI's error codes where OpenAI has one.</summary>
public static class ChatErrorCodes
{
    public const string ModelNotFound = "model_not_found";
    public const string ContextLengthExceeded = "context_length_exceeded";
    public const string QueueFull = "queue_full";
    public const string InvalidRequest = "invalid_request";
    public const string WorkerUnavailable = "worker_unavailable";
    public const string ServerError = "server_error";
}
