using System.Security.Cryptography;

namespace Platform.Batch;

/// <summary>OpenAI-shaped identifiers ("file-…", "batch_…", "batch_req_…") with 96 random bits.</summary>
internal static class Ids
{
    public static string New(string prefix) => prefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));

    /// <summary>Deterministic ids for a batch's output and error files, so a repeated finalization writes nothing new.</summary>
    public static string OutputFile(string batchId) => "file-" + batchId.Replace("batch_", "") + "-output";
    public static string ErrorFile(string batchId) => "file-" + batchId.Replace("batch_", "") + "-errors";
}
