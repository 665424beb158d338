using System.Security.Cryptography;

namespace Platform.Batch;

/// <summary>OpenAI-shaped identifiers ("file-…", "batch_…", "batch_req_…") with 96 random bits.</summary>
internal static class Ids
{
    /// <summary>
    /// Whether <paramref name="id"/> can be an id at all (ASCII letters, digits, '-' and '_', at most 100): anything else
    /// cannot name a stored object, so it is answered without asking the store (which may refuse NUL and odd text).
    /// </summary>
    public static bool IsWellFormed(string? id) =>
        id is { Length: > 0 and <= 100 } && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    public static string New(string prefix) => prefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));

    /// <summary>Deterministic ids for a batch's output and error files, so a repeated finalization writes nothing new.</summary>
    public static string OutputFile(string batchId) => "file-" + batchId.Replace("batch_", "") + "-output";
    public static string ErrorFile(string batchId) => "file-" + batchId.Replace("batch_", "") + "-errors";
}
