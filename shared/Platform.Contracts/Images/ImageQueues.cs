using System.Text;

namespace Platform.Contracts.Images;

/// <summary>Queue naming shared by the gateway and ImageGen: one competing-consumer queue per multimodal model.</summary>
public static class ImageQueues
{
    /// <summary>"image-{model}" with every character outside [a-z0-9.-_] replaced by '-'.</summary>
    public static string ForModel(string model)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        var sb = new StringBuilder("image-", model.Length + 6);
        foreach (var c in model.ToLowerInvariant())
            sb.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '-');
        return sb.ToString();
    }

    /// <summary>The short address MassTransit resolves on every transport.</summary>
    public static Uri AddressForModel(string model) => new($"queue:{ForModel(model)}");
}
