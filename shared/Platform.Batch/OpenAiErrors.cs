using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Platform.Batch;

/// <summary>OpenAI error JSON: {"error":{"message","type","param","code"}} with the HTTP status.</summary>
public static class OpenAiErrors
{
    public static JsonObject Body(string message, string type = "invalid_request_error", string? param = null, string? code = null) =>
        new()
        {
            ["error"] = new JsonObject
            {
                ["message"] = message, ["type"] = type, ["param"] = param, ["code"] = code,
            },
        };

    public static JsonHttpResult<JsonObject> Result(int status, string message, string? param = null, string? code = null,
        string type = "invalid_request_error") =>
        TypedResults.Json(Body(message, type, param, code), statusCode: status);

    public static JsonHttpResult<JsonObject> BadRequest(string message, string? param = null, string? code = null) =>
        Result(StatusCodes.Status400BadRequest, message, param, code);

    public static JsonHttpResult<JsonObject> NotFound(string message, string? param = null) =>
        Result(StatusCodes.Status404NotFound, message, param);
}
