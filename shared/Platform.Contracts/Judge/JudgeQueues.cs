using System.Text;

namespace Platform.Contracts.Judge;

/// <summary>Queue naming shared by the gateway and the Judge service: one competing-consumer queue per judge model.</summary>
public static class JudgeQueues
{
    /// <summary>The capability a judge model announces (<see cref="Models.ServedModel.Capabilities"/>).</summary>
    public const string Capability = "judge";

    /// <summary>"judge-{model}" with every character outside [a-z0-9.-_] replaced by '-'.</summary>
    public static string ForModel(string model)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        var sb = new StringBuilder("judge-", model.Length + 6);
        foreach (var c in model.ToLowerInvariant())
            sb.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '-');
        return sb.ToString();
    }

    /// <summary>The short address MassTransit resolves on every transport.</summary>
    public static Uri AddressForModel(string model) => new($"queue:{ForModel(model)}");
}
