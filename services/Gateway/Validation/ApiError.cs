using Gateway.OpenAi;
using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Contracts.Chat;
using Platform.ServiceDefaults.Chat;

namespace Gateway.Validation;

/// <summary>An error answered in OpenAI's shape {"error":{"message","type","param","code"}} with its HTTP status.</summary>
public sealed record ApiError(int Status, string Message, string Type, string? Param = null, string? Code = null, int? RetryAfterSeconds = null)
{
    public const string InvalidRequest = "invalid_request_error";

    public static ApiError Invalid(string message, string? param, string? code = "invalid_value") =>
        new(StatusCodes.Status400BadRequest, message, InvalidRequest, param, code);

    public ErrorBodyDto ToBody() => new(new ErrorDto(Message, Type, Param, Code));

    public JsonHttpResult<ErrorBodyDto> ToResult(HttpContext context)
    {
        if (RetryAfterSeconds is { } s) context.Response.Headers.RetryAfter = s.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return TypedResults.Json(ToBody(), OpenAiJson.Options, statusCode: Status);
    }

    /// <summary>Maps a bus-side failure code to the HTTP status a client of OpenAI's API expects.</summary>
    public static ApiError From(ChatCompletionException ex) => ex.Code switch
    {
        ChatErrorCodes.ModelNotFound => new(StatusCodes.Status404NotFound, ex.Message, InvalidRequest, ex.Param ?? "model", ex.Code),
        ChatErrorCodes.ContextLengthExceeded => new(StatusCodes.Status400BadRequest, ex.Message, InvalidRequest, ex.Param ?? "messages", ex.Code),
        ChatErrorCodes.InvalidRequest => new(StatusCodes.Status400BadRequest, ex.Message, InvalidRequest, ex.Param, "invalid_value"),
        ChatErrorCodes.QueueFull => new(StatusCodes.Status429TooManyRequests, ex.Message, "rate_limit_error", null, ex.Code, 1),
        ChatErrorCodes.WorkerUnavailable => new(StatusCodes.Status503ServiceUnavailable, ex.Message, "server_error", null, ex.Code, 5),
        _ => new(StatusCodes.Status500InternalServerError, ex.Message, "server_error", null, ex.Code),
    };
}
