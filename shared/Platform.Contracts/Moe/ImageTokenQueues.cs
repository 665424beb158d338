using System.Text;

namespace Platform.Contracts.Moe;

/// <summary>
/// Names shared by the gateway and the MoeAdapter service. Image-token models take chat requests on their model's chat
/// queue (<see cref="Chat.ChatQueues.ForModel"/>) like every chat model; routing statistics are asked for on a queue of
/// their own, so a question never waits behind the generations the chat queue's concurrency limit holds back.
/// </summary>
public static class ImageTokenQueues
{
    /// <summary>Announced by a model that draws pictures as image tokens in its answers.</summary>
    public const string Capability = "image-tokens";

    /// <summary>Announced by a mixture-of-experts model whose worker answers <see cref="GetRoutingStatistics"/>.</summary>
    public const string RoutingCapability = "moe-routing";

    /// <summary>"moe-routing-{model}" with every character outside [a-z0-9.-_] replaced by '-'.</summary>
    public static string RoutingForModel(string model)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        var sb = new StringBuilder("moe-routing-", model.Length + 12);
        foreach (var c in model.ToLowerInvariant())
            sb.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '-');
        return sb.ToString();
    }

    /// <summary>The short address MassTransit resolves on every transport.</summary>
    public static Uri RoutingAddressForModel(string model) => new($"queue:{RoutingForModel(model)}");
}
