using System.Text.Json.Nodes;
using Platform.Batch.Storage;

namespace Platform.Batch;

/// <summary>The JSON objects of OpenAI's Files and Batch APIs, built from stored rows.</summary>
public static class ApiObjects
{
    public static JsonObject File(BatchFile file) => new()
    {
        ["id"] = file.Id,
        ["object"] = "file",
        ["bytes"] = file.Bytes,
        ["created_at"] = file.CreatedAt,
        ["filename"] = file.Filename,
        ["purpose"] = file.Purpose,
        ["status"] = "processed",
        ["status_details"] = null,
    };

    public static JsonObject Batch(BatchJob b) => new()
    {
        ["id"] = b.Id,
        ["object"] = "batch",
        ["endpoint"] = b.Endpoint,
        ["errors"] = b.ErrorsJson is null ? null : new JsonObject { ["object"] = "list", ["data"] = JsonNode.Parse(b.ErrorsJson) },
        ["input_file_id"] = b.InputFileId,
        ["completion_window"] = b.CompletionWindow,
        ["status"] = b.Status,
        ["output_file_id"] = b.OutputFileId,
        ["error_file_id"] = b.ErrorFileId,
        ["created_at"] = b.CreatedAt,
        ["in_progress_at"] = b.InProgressAt,
        ["expires_at"] = b.ExpiresAt,
        ["finalizing_at"] = b.FinalizingAt,
        ["completed_at"] = b.CompletedAt,
        ["failed_at"] = b.FailedAt,
        ["expired_at"] = b.ExpiredAt,
        ["cancelling_at"] = b.CancellingAt,
        ["cancelled_at"] = b.CancelledAt,
        ["request_counts"] = new JsonObject { ["total"] = b.Total, ["completed"] = b.Completed, ["failed"] = b.Failed },
        ["metadata"] = b.MetadataJson is null ? null : JsonNode.Parse(b.MetadataJson),
    };

    /// <summary>OpenAI list envelope; <paramref name="hasMore"/> comes from fetching one row more than asked.</summary>
    public static JsonObject List(IEnumerable<JsonObject> items, bool hasMore)
    {
        var data = new JsonArray(items.Cast<JsonNode?>().ToArray());
        return new JsonObject
        {
            ["object"] = "list",
            ["data"] = data,
            ["first_id"] = data.Count > 0 ? data[0]!["id"]!.GetValue<string>() : null,
            ["last_id"] = data.Count > 0 ? data[^1]!["id"]!.GetValue<string>() : null,
            ["has_more"] = hasMore,
        };
    }
}
