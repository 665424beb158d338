using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Platform.Batch.Files;
using Platform.Batch.Processing;
using Platform.Batch.Storage;
using Platform.Batch.Tenancy;

namespace Platform.Batch.Batches;

/// <summary>OpenAI Batch API: create, retrieve, list (after, limit), cancel.</summary>
public static class BatchesEndpoints
{
    public const string CompletionWindow = "24h";
    private static readonly TimeSpan CompletionWindowSpan = TimeSpan.FromHours(24);

    public static RouteGroupBuilder MapBatchesApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/v1/batches").WithTags("Batches");
        group.MapPost("", CreateAsync);
        group.MapGet("", ListAsync);
        group.MapGet("/{id}", GetAsync);
        group.MapPost("/{id}/cancel", CancelAsync);
        return group;
    }

    internal static async Task<IResult> CreateAsync(HttpRequest request, IBatchStore store, BatchCoordinator coordinator,
        TimeProvider time, CancellationToken cancellationToken)
    {
        JsonElement root;
        try
        {
            using var document = await JsonDocument.ParseAsync(request.Body, cancellationToken: cancellationToken);
            root = document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            return OpenAiErrors.BadRequest($"The request body is not valid JSON: {ex.Message}");
        }
        if (root.ValueKind != JsonValueKind.Object)
            return OpenAiErrors.BadRequest("The request body must be a JSON object.");
        if (UnsafeText.Find(root) is { } unsafeText)
            return OpenAiErrors.BadRequest($"'{unsafeText.Path}' holds {unsafeText.Problem}, which is not accepted.",
                UnsafeText.TopLevel(unsafeText.Path), "invalid_value");

        if (!TryGetString(root, "input_file_id", out var inputFileId))
            return OpenAiErrors.BadRequest("Missing required parameter: 'input_file_id'.", "input_file_id", "missing_required_parameter");
        if (!TryGetString(root, "endpoint", out var endpoint))
            return OpenAiErrors.BadRequest("Missing required parameter: 'endpoint'.", "endpoint", "missing_required_parameter");
        if (coordinator.FindHandler(endpoint) is null)
            return OpenAiErrors.BadRequest(
                $"'{endpoint}' is not a supported endpoint. Supported: {string.Join(", ", coordinator.Endpoints)}.", "endpoint", "invalid_value");
        if (!TryGetString(root, "completion_window", out var window))
            return OpenAiErrors.BadRequest("Missing required parameter: 'completion_window'.", "completion_window", "missing_required_parameter");
        if (window != CompletionWindow)
            return OpenAiErrors.BadRequest($"'{window}' is not a supported completion_window. Supported: '24h'.", "completion_window", "invalid_value");

        string? metadataJson = null;
        if (root.TryGetProperty("metadata", out var metadata) && metadata.ValueKind != JsonValueKind.Null)
        {
            if (ValidateMetadata(metadata) is { } problem)
                return OpenAiErrors.BadRequest(problem, "metadata", "invalid_value");
            metadataJson = metadata.GetRawText();
        }

        var file = Ids.IsWellFormed(inputFileId) ? await store.GetFileAsync(inputFileId, cancellationToken, TenantContext.Current) : null;
        if (file is null)
            return OpenAiErrors.NotFound($"No such File object: {UnsafeText.Printable(inputFileId)}", "input_file_id");
        if (file.Purpose != FilesEndpoints.BatchPurpose)
            return OpenAiErrors.BadRequest(
                $"The file '{inputFileId}' has purpose '{file.Purpose}'; a batch input file must have purpose 'batch'.",
                "input_file_id", "invalid_value");

        var now = time.GetUtcNow();
        var batch = new BatchJob
        {
            Id = Ids.New("batch_"), Endpoint = endpoint, InputFileId = inputFileId, CompletionWindow = window,
            Status = BatchStatus.Validating, CreatedAt = now.ToUnixTimeSeconds(),
            ExpiresAt = (now + CompletionWindowSpan).ToUnixTimeSeconds(), MetadataJson = metadataJson, Tenant = TenantContext.Current,
        };
        await store.InsertBatchAsync(batch, cancellationToken);
        coordinator.NotifyCreated(batch.Id);
        return TypedResults.Json(ApiObjects.Batch(batch));
    }

    /// <summary>OpenAI metadata: at most 16 string pairs, keys up to 64 and values up to 512 characters.</summary>
    private static string? ValidateMetadata(JsonElement metadata)
    {
        if (metadata.ValueKind != JsonValueKind.Object) return "metadata must be an object of string keys and string values.";
        var count = 0;
        foreach (var p in metadata.EnumerateObject())
        {
            if (++count > 16) return "metadata may have at most 16 keys.";
            if (p.Name.Length > 64) return $"metadata key '{p.Name[..16]}…' is longer than 64 characters.";
            if (p.Value.ValueKind != JsonValueKind.String) return $"metadata value of '{p.Name}' must be a string.";
            if (p.Value.GetString()!.Length > 512) return $"metadata value of '{p.Name}' is longer than 512 characters.";
        }
        return null;
    }

    private static bool TryGetString(JsonElement root, string name, out string value)
    {
        value = "";
        if (!root.TryGetProperty(name, out var e) || e.ValueKind != JsonValueKind.String || e.GetString() is not { Length: > 0 } s)
            return false;
        value = s;
        return true;
    }

    internal static async Task<IResult> GetAsync(string id, IBatchStore store, CancellationToken cancellationToken) =>
        Ids.IsWellFormed(id) && await store.GetBatchAsync(id, cancellationToken, TenantContext.Current) is { } batch
            ? TypedResults.Json(ApiObjects.Batch(batch))
            : NoSuchBatch(id);

    internal static async Task<IResult> ListAsync(IBatchStore store, string? after, int? limit, CancellationToken cancellationToken)
    {
        var take = limit ?? 20;
        if (take is < 1 or > 100)
            return OpenAiErrors.BadRequest($"limit must be between 1 and 100, got {take}.", "limit", "invalid_value");
        if (after is not null && (!Ids.IsWellFormed(after) || await store.GetBatchAsync(after, cancellationToken, TenantContext.Current) is null))
            return OpenAiErrors.BadRequest($"No batch found with id '{UnsafeText.Printable(after)}'.", "after", "invalid_value");
        var rows = await store.ListBatchesAsync(after, take + 1, cancellationToken, TenantContext.Current);
        return TypedResults.Json(ApiObjects.List(rows.Take(take).Select(ApiObjects.Batch), rows.Count > take));
    }

    internal static async Task<IResult> CancelAsync(string id, IBatchStore store, BatchCoordinator coordinator, CancellationToken cancellationToken)
    {
        // Another tenant's batch is "not found" and stays running.
        if (!Ids.IsWellFormed(id) || await store.GetBatchAsync(id, cancellationToken, TenantContext.Current) is null) return NoSuchBatch(id);
        var (batch, cancellable) = await coordinator.RequestCancelAsync(id, cancellationToken);
        if (batch is null) return NoSuchBatch(id);
        if (!cancellable)
            return OpenAiErrors.Result(StatusCodes.Status409Conflict,
                $"Cannot cancel a batch with status '{batch.Status}'.", "id", "batch_not_cancellable");
        return TypedResults.Json(ApiObjects.Batch(batch));
    }

    private static IResult NoSuchBatch(string id) => OpenAiErrors.NotFound($"No batch found with id '{UnsafeText.Printable(id)}'.", "id");
}
