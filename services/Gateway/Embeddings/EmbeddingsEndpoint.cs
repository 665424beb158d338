using System.Runtime.InteropServices;
using Gateway.Endpoints;
using Gateway.OpenAi;
using Gateway.Validation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Contracts.Chat;
using Platform.Contracts.Embeddings;
using Platform.ServiceDefaults.Chat;

namespace Gateway.Embeddings;

/// <summary>
/// POST /v1/embeddings: the pooled, L2-normalised hidden states of a served language model (pooling per model:
/// last token or mean), computed by its TextLlm workers over the bus; float arrays or base64 (little-endian float32).
/// </summary>
public static class EmbeddingsEndpoint
{
    /// <summary>OpenAI's limit on inputs per request.</summary>
    public const int MaxInputs = 2048;

    public static async Task<Results<JsonHttpResult<EmbeddingResponseDto>, JsonHttpResult<ErrorBodyDto>>> HandleAsync(
        HttpContext http,
        EmbeddingsClient client,
        ModelDirectory directory,
        IOptions<GatewayOptions> gatewayOptions)
    {
        var (dto, readError) = await ChatCompletionsEndpoint.ReadBodyAsync<EmbeddingRequestDto>(http, gatewayOptions.Value);
        if (readError is not null) return readError.ToResult(http);
        var d = dto!;
        if (Validate(d) is { } error) return error.ToResult(http);
        var model = directory.Find(d.Model!);
        if (model is null || (model.Model.Capabilities?.Contains(Platform.Contracts.Judge.JudgeQueues.Capability) ?? false))
            return ApiError.From(new ChatCompletionException(ChatErrorCodes.ModelNotFound,
                $"The model '{d.Model}' does not exist or no worker serves it.", "model")).ToResult(http);
        EmbeddingsCreated created;
        try
        {
            created = await client.CreateAsync(new CreateEmbeddings(Guid.NewGuid(), d.Model!, d.Input!.Texts, d.Input.Tokens, d.Dimensions),
                http.RequestAborted);
        }
        catch (ChatCompletionException ex)
        {
            return ApiError.From(ex).ToResult(http);
        }
        http.Response.Headers[ChatCompletionsEndpoint.WorkerHeader] = created.WorkerId;
        var base64 = d.EncodingFormat == "base64";
        var data = created.Vectors.Select((v, i) => new EmbeddingDto("embedding", i,
            base64 ? Convert.ToBase64String(MemoryMarshal.AsBytes(v.AsSpan())) : v)).ToList();
        return TypedResults.Json(new EmbeddingResponseDto("list", data, d.Model!,
            new EmbeddingUsageDto(created.PromptTokens, created.PromptTokens), created.Pooling), OpenAiJson.Options);
    }

    /// <summary>The field checks of an embeddings body (also used for batch lines).</summary>
    public static ApiError? Validate(EmbeddingRequestDto d)
    {
        if (RequestFields.Check(d.UnknownFields) is { } unknown) return unknown;
        if (string.IsNullOrWhiteSpace(d.Model))
            return ApiError.Invalid("You must provide a model parameter.", "model", "missing_required_parameter");
        if (d.Input is null)
            return ApiError.Invalid("Missing required parameter: 'input'.", "input", "missing_required_parameter");
        if (d.Input.Count == 0)
            return ApiError.Invalid("'input' must not be an empty array.", "input", "empty_array");
        if (d.Input.Count > MaxInputs)
            return ApiError.Invalid($"'input' holds {d.Input.Count} items; at most {MaxInputs} are allowed.", "input");
        if (d.Input.Texts?.Any(string.IsNullOrEmpty) == true || d.Input.Tokens?.Any(t => t.Count == 0) == true)
            return ApiError.Invalid("'input' must not contain an empty string or an empty token array.", "input");
        if (d.EncodingFormat is not (null or "float" or "base64"))
            return ApiError.Invalid($"Invalid 'encoding_format': '{d.EncodingFormat}'; it must be 'float' or 'base64'.", "encoding_format");
        if (d.Dimensions is < 1)
            return ApiError.Invalid($"Invalid 'dimensions': {d.Dimensions}; it must be at least 1.", "dimensions");
        return null;
    }
}
