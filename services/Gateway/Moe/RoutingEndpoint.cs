using Gateway.OpenAi;
using Gateway.Security;
using Gateway.Validation;
using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Contracts.Chat;
using Platform.Contracts.Moe;
using Platform.ServiceDefaults.Chat;

namespace Gateway.Moe;

/// <summary>
/// GET /v1/models/{id}/routing: how an MoE model's routers spread text and image tokens over the experts (the routing
/// analysis of Dutt et al. 2025). Asked of one worker of the model over the bus; each replica counts its own traffic,
/// named in <c>worker</c>. 404 for a model no worker serves, 400 for one that is not a mixture of experts.
/// </summary>
public static class RoutingEndpoint
{
    public static async Task<Results<JsonHttpResult<ModelRoutingDto>, JsonHttpResult<ErrorBodyDto>>> GetAsync(
        string id, ModelDirectory directory, RoutingClient routing, HttpContext http)
    {
        if (directory.Find(id) is not { } model || !Caller.MayUse(http, model.Name))
            return ApiError.From(new ChatCompletionException(ChatErrorCodes.ModelNotFound, $"The model '{id}' does not exist.", "model")).ToResult(http);
        if (!(model.Model.Capabilities?.Contains(ImageTokenQueues.RoutingCapability) ?? false))
            return ApiError.Invalid($"The model '{id}' is not a mixture-of-experts model: it has no routing statistics.", "model",
                "routing_not_supported").ToResult(http);
        try
        {
            var r = await routing.GetAsync(model.Name, http.RequestAborted);
            return TypedResults.Json(new ModelRoutingDto("model.routing", r.Model, r.WorkerId, r.Experts, r.TopK, r.SpecificThreshold,
                r.Layers.Select(l => new LayerRoutingDto(l.Layer, l.TextTokens, l.ImageTokens,
                    l.Experts.Select(e => new ExpertRoutingDto(e.Expert, e.TextSlots, e.ImageSlots, e.TextShare, e.ImageShare, e.ImageFraction)).ToList(),
                    l.TextEntropyBits, l.ImageEntropyBits, l.JensenShannonBits, l.ImageSpecificExperts, l.TextSpecificExperts)).ToList()),
                OpenAiJson.Options);
        }
        catch (ChatCompletionException ex)
        {
            return ApiError.From(ex).ToResult(http);
        }
    }
}
