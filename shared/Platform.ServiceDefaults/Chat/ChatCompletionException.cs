using Platform.Contracts.Chat;

namespace Platform.ServiceDefaults.Chat;

/// <summary>A chat completion that could not be served. <see cref="Code"/> is one of <see cref="ChatErrorCodes"/>.</summary>
public sealed class ChatCompletionException(string code, string message, string? param = null, Exception? inner = null)
    : Exception(message, inner)
{
    public string Code { get; } = code;
    public string? Param { get; } = param;
}
