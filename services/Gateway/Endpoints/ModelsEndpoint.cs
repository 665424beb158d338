using Gateway.OpenAi;
using Gateway.Security;
using Gateway.Validation;
using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Contracts.Chat;
using Platform.ServiceDefaults.Chat;

namespace Gateway.Endpoints;

/// <summary>GET /v1/models and /v1/models/{id}: what the workers on the bus announced.</summary>
public static class ModelsEndpoint
{
    public static JsonHttpResult<ModelListDto> List(ModelDirectory directory, HttpContext http) =>
        TypedResults.Json(new ModelListDto("list", directory.List().Where(m => Caller.MayUse(http, m.Name)).Select(ToDto).ToList()), OpenAiJson.Options);

    public static Results<JsonHttpResult<ModelDto>, JsonHttpResult<ErrorBodyDto>> Get(string id, ModelDirectory directory, HttpContext http) =>
        directory.Find(id) is { } model && Caller.MayUse(http, model.Name)
            ? TypedResults.Json(ToDto(model), OpenAiJson.Options)
            : ApiError.From(new ChatCompletionException(ChatErrorCodes.ModelNotFound, $"The model '{id}' does not exist.", "model")).ToResult(http);

    private static ModelDto ToDto(AvailableModel m) => new(m.Name, "model", m.FirstSeen.ToUnixTimeSeconds(), "platform",
        m.Model.Capabilities is { Count: > 0 } c ? c : null);
}
