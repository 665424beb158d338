using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using Platform.Batch.Storage;
using Platform.Batch.Tenancy;

namespace Platform.Batch.Files;

/// <summary>OpenAI Files API: upload (multipart, purpose=batch), list, retrieve, content, delete.</summary>
public static class FilesEndpoints
{
    public const string BatchPurpose = "batch";
    public const string BatchOutputPurpose = "batch_output";

    /// <summary>Room for the multipart boundaries and the purpose field on top of the file itself.</summary>
    private const long MultipartOverhead = 64 * 1024;

    public static RouteGroupBuilder MapFilesApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/v1/files").WithTags("Files");
        group.MapPost("", UploadAsync).DisableAntiforgery();
        group.MapGet("", ListAsync);
        group.MapGet("/{id}", GetAsync);
        group.MapGet("/{id}/content", GetContentAsync);
        group.MapDelete("/{id}", DeleteAsync);
        return group;
    }

    private static JsonHttpResult<JsonObject> TooLarge(long max) =>
        OpenAiErrors.Result(StatusCodes.Status413PayloadTooLarge,
            $"The file is larger than the maximum of {max} bytes.", "file", "file_too_large");

    internal static async Task<IResult> UploadAsync(HttpRequest request, IBatchStore store, IOptions<BatchOptions> options,
        TimeProvider time, CancellationToken cancellationToken)
    {
        var max = options.Value.MaxFileBytes;
        if (request.ContentLength is { } length && length > max + MultipartOverhead) return TooLarge(max);
        if (!request.HasFormContentType)
            return OpenAiErrors.BadRequest("Expected a multipart/form-data body with the fields 'file' and 'purpose'.");

        var sizeFeature = request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false }) sizeFeature.MaxRequestBodySize = max + MultipartOverhead;

        IFormCollection form;
        try
        {
            form = await new FormFeature(request, new FormOptions { MultipartBodyLengthLimit = max + MultipartOverhead })
                .ReadFormAsync(cancellationToken);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return TooLarge(max);
        }
        catch (InvalidDataException ex) when (ex.Message.Contains("limit", StringComparison.OrdinalIgnoreCase))
        {
            return TooLarge(max);
        }
        catch (InvalidDataException ex)
        {
            return OpenAiErrors.BadRequest($"The multipart body could not be read: {ex.Message}");
        }
        catch (IOException ex) when (!cancellationToken.IsCancellationRequested)
        {
            // A body cut short inside a part ("Unexpected end of Stream"): the client's mistake, not the server's.
            return OpenAiErrors.BadRequest($"The multipart body could not be read: {ex.Message}");
        }

        var purpose = form["purpose"].ToString();
        if (UnsafeText.Problem(purpose) is { } badPurpose)
            return OpenAiErrors.BadRequest($"'purpose' holds {badPurpose}, which is not accepted.", "purpose", "invalid_value");
        if (string.IsNullOrEmpty(purpose))
            return OpenAiErrors.BadRequest("Missing required parameter: 'purpose'.", "purpose", "missing_required_parameter");
        if (purpose != BatchPurpose)
            return OpenAiErrors.BadRequest(
                $"'{purpose}' is not a supported purpose. This server accepts only 'batch'.", "purpose", "invalid_value");
        var file = form.Files.GetFile("file");
        if (file is null)
            return OpenAiErrors.BadRequest("Missing required parameter: 'file'.", "file", "missing_required_parameter");
        if (UnsafeText.Problem(file.FileName) is { } badName)
            return OpenAiErrors.BadRequest($"The file name holds {badName}, which is not accepted.", "file", "invalid_value");
        if (file.Length > max) return TooLarge(max);
        if (file.Length == 0)
            return OpenAiErrors.BadRequest("The file is empty.", "file", "empty_file");

        var content = new byte[file.Length];
        await using (var stream = file.OpenReadStream())
            await stream.ReadExactlyAsync(content, cancellationToken);
        var stored = new BatchFile
        {
            Id = Ids.New("file-"), Purpose = purpose, Filename = Path.GetFileName(file.FileName) is { Length: > 0 } n ? n : "upload.jsonl",
            Bytes = content.Length, CreatedAt = time.GetUtcNow().ToUnixTimeSeconds(), Tenant = TenantContext.Current,
        };
        await store.InsertFileAsync(stored, content, cancellationToken);
        return TypedResults.Json(ApiObjects.File(stored));
    }

    internal static async Task<IResult> ListAsync(IBatchStore store, string? purpose, string? after, int? limit,
        CancellationToken cancellationToken)
    {
        var take = limit ?? 10_000;
        if (take is < 1 or > 10_000)
            return OpenAiErrors.BadRequest($"limit must be between 1 and 10000, got {take}.", "limit", "invalid_value");
        if (after is not null && (!Ids.IsWellFormed(after) || await store.GetFileAsync(after, cancellationToken, TenantContext.Current) is null))
            return OpenAiErrors.BadRequest($"No such File object: {UnsafeText.Printable(after)}", "after", "invalid_value");
        if (UnsafeText.Problem(purpose) is { } badPurpose)
            return OpenAiErrors.BadRequest($"'purpose' holds {badPurpose}, which is not accepted.", "purpose", "invalid_value");
        var rows = await store.ListFilesAsync(string.IsNullOrEmpty(purpose) ? null : purpose, after, take + 1, cancellationToken,
            TenantContext.Current);
        return TypedResults.Json(ApiObjects.List(rows.Take(take).Select(ApiObjects.File), rows.Count > take));
    }

    internal static async Task<IResult> GetAsync(string id, IBatchStore store, CancellationToken cancellationToken) =>
        Ids.IsWellFormed(id) && await store.GetFileAsync(id, cancellationToken, TenantContext.Current) is { } file
            ? TypedResults.Json(ApiObjects.File(file))
            : NoSuchFile(id);

    internal static async Task<IResult> GetContentAsync(string id, IBatchStore store, CancellationToken cancellationToken) =>
        Ids.IsWellFormed(id) && await store.GetFileContentAsync(id, cancellationToken, TenantContext.Current) is { } content
            ? TypedResults.Bytes(content, "application/octet-stream")
            : NoSuchFile(id);

    internal static async Task<IResult> DeleteAsync(string id, IBatchStore store, CancellationToken cancellationToken) =>
        Ids.IsWellFormed(id) && await store.DeleteFileAsync(id, cancellationToken, TenantContext.Current)
            ? TypedResults.Json(new JsonObject { ["id"] = id, ["object"] = "file", ["deleted"] = true })
            : NoSuchFile(id);

    private static JsonHttpResult<JsonObject> NoSuchFile(string id) => OpenAiErrors.NotFound($"No such File object: {UnsafeText.Printable(id)}", "id");
}
