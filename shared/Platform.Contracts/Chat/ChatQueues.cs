using System.Text;

namespace Platform.Contracts.Chat;

/// <summary>Queue naming shared by senders and workers: one competing-consumer queue per served model.</summary>
public static class ChatQueues
{
    /// <summary>"chat-{model}" with every character outside [a-z0-9.-_] replaced by '-'.</summary>
    public static string ForModel(string model)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        var sb = new StringBuilder("chat-", model.Length + 5);
        foreach (var c in model.ToLowerInvariant())
            sb.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '-');
        return sb.ToString();
    }

    /// <summary>The short address MassTransit resolves on every transport.</summary>
    public static Uri AddressForModel(string model) => new($"queue:{ForModel(model)}");
}
