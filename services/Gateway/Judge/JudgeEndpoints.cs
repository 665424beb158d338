using System.Text.Json;
using Gateway.Images;
using Gateway.OpenAi;
using Gateway.Validation;
using MassTransit;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Contracts.Chat;
using Platform.Contracts.Judge;
using Platform.ServiceDefaults.Chat;

namespace Gateway.Judge;

/// <summary>
/// POST /v1/judge/ratings and /v1/judge/comparisons: validated like chat completions (the judged conversation and the
/// responses are OpenAI messages and contents, images included), routed to the judge model's queue, answered with the
/// verdict, the critique and the judge's raw text.
/// </summary>
public static class JudgeEndpoints
{
    public const string RatingsPath = "/v1/judge/ratings";
    public const string ComparisonsPath = "/v1/judge/comparisons";

    public static RouteGroupBuilder MapJudge(this RouteGroupBuilder v1)
    {
        v1.MapPost("/judge/ratings", RateAsync);
        v1.MapPost("/judge/comparisons", CompareAsync);
        return v1;
    }

    public static async Task<Results<JsonHttpResult<JudgeRatingDto>, JsonHttpResult<ErrorBodyDto>>> RateAsync(
        HttpContext http, JudgeClient client, ModelDirectory directory, IOptions<GatewayOptions> gatewayOptions, TimeProvider time)
    {
        var (dto, readError) = await ReadBodyAsync<JudgeRatingRequestDto>(http, gatewayOptions.Value);
        if (readError is not null) return readError.ToResult(http);
        if (RequestFields.Check(dto!.UnknownFields, passThrough: RequestFields.None) is { } unknown) return unknown.ToResult(http);
        if (dto!.Response is null)
            return ApiError.Invalid("Missing required parameter: 'response'.", "response", "missing_required_parameter").ToResult(http);
        var (judged, error) = await PrepareAsync(http, dto.Model, dto.Messages, [dto.Response], ["response"], directory, gatewayOptions.Value);
        if (error is not null) return error.ToResult(http);
        try
        {
            var r = await client.RateAsync(new RateResponse(NewId.NextGuid(), judged!.Model, judged.Messages, judged.Responses[0]), http.RequestAborted);
            return TypedResults.Json(new JudgeRatingDto($"judgerating-{Guid.NewGuid():N}", "judge.rating", time.GetUtcNow().ToUnixTimeSeconds(),
                judged.Model, r.Rating, r.Critique, r.Raw, new UsageDto(r.PromptTokens, r.CompletionTokens, r.PromptTokens + r.CompletionTokens),
                r.WorkerId), OpenAiJson.Options);
        }
        catch (ChatCompletionException ex)
        {
            return ApiError.From(ex).ToResult(http);
        }
    }

    public static async Task<Results<JsonHttpResult<JudgeComparisonDto>, JsonHttpResult<ErrorBodyDto>>> CompareAsync(
        HttpContext http, JudgeClient client, ModelDirectory directory, IOptions<GatewayOptions> gatewayOptions, TimeProvider time)
    {
        var (dto, readError) = await ReadBodyAsync<JudgeComparisonRequestDto>(http, gatewayOptions.Value);
        if (readError is not null) return readError.ToResult(http);
        if (RequestFields.Check(dto!.UnknownFields, passThrough: RequestFields.None) is { } unknown) return unknown.ToResult(http);
        if (dto!.Responses is null)
            return ApiError.Invalid("Missing required parameter: 'responses'.", "responses", "missing_required_parameter").ToResult(http);
        if (dto.Responses.Count != 2)
            return ApiError.Invalid($"'responses' must hold exactly two responses, got {dto.Responses.Count}.", "responses").ToResult(http);
        var mode = dto.Mode ?? JudgeModes.Ordered;
        if (!JudgeModes.All.Contains(mode))
            return ApiError.Invalid($"Invalid 'mode': '{mode}'; supported modes are {string.Join(" and ", JudgeModes.All)}.", "mode").ToResult(http);
        for (int i = 0; i < 2; i++)
            if (dto.Responses[i] is null)
                return ApiError.Invalid($"Missing required parameter: 'responses[{i}]'.", $"responses[{i}]", "missing_required_parameter").ToResult(http);
        var (judged, error) = await PrepareAsync(http, dto.Model, dto.Messages, [dto.Responses[0]!, dto.Responses[1]!], ["responses[0]", "responses[1]"],
            directory, gatewayOptions.Value);
        if (error is not null) return error.ToResult(http);
        try
        {
            var r = await client.CompareAsync(new CompareResponses(NewId.NextGuid(), judged!.Model, judged.Messages, judged.Responses, mode), http.RequestAborted);
            object? winner = r.IsTie ? "tie" : r.Winner;
            return TypedResults.Json(new JudgeComparisonDto($"judgecmp-{Guid.NewGuid():N}", "judge.comparison", time.GetUtcNow().ToUnixTimeSeconds(),
                judged.Model, mode, winner, r.Critique, r.Raw, new UsageDto(r.PromptTokens, r.CompletionTokens, r.PromptTokens + r.CompletionTokens),
                r.WorkerId), OpenAiJson.Options);
        }
        catch (ChatCompletionException ex)
        {
            return ApiError.From(ex).ToResult(http);
        }
    }

    /// <summary>The judged conversation and responses as bus turns (images encoded), after every check.</summary>
    public sealed record JudgedInput(string Model, IReadOnlyList<ChatTurn> Messages, IReadOnlyList<ChatTurn> Responses);

    /// <summary>
    /// Validates the conversation and the responses with the chat validator (responses ride as extra user messages, so
    /// the same rules for content parts and images apply), checks that the model is a judge, and encodes images.
    /// </summary>
    public static async Task<(JudgedInput?, ApiError?)> PrepareAsync(HttpContext http, string? model, List<ChatMessageDto>? messages,
        IReadOnlyList<MessageContent> responses, IReadOnlyList<string> responseNames, ModelDirectory directory, GatewayOptions options)
    {
        if (string.IsNullOrWhiteSpace(model))
            return (null, ApiError.Invalid("You must provide a model parameter.", "model", "missing_required_parameter"));
        if (messages is null)
            return (null, ApiError.Invalid("Missing required parameter: 'messages'.", "messages", "missing_required_parameter"));
        if (messages.Count == 0)
            return (null, ApiError.Invalid("'messages' must contain at least one message.", "messages", "empty_array"));
        for (int i = 0; i < responses.Count; i++)
        {
            var r = responses[i];
            bool empty = r.Parts is null ? string.IsNullOrWhiteSpace(r.Text) : r.Parts.Count == 0;
            if (empty) return (null, ApiError.Invalid($"'{responseNames[i]}' must not be empty.", responseNames[i], r.Parts is null ? "empty_string" : "empty_array"));
        }
        var all = messages.Concat(responses.Select(r => new ChatMessageDto { Role = "user", Content = r })).ToList();
        var chatDto = new ChatCompletionRequestDto { Model = model, Messages = all };
        var (validated, error) = ChatRequestValidator.Validate(chatDto, options);
        if (error is not null) return (null, Rename(error, messages.Count, responseNames));
        var v = validated!;
        for (int i = 0; i < v.Messages.Count; i++)
            if (SetMarkers.ContainsAny(v.Messages[i].Content))
                return (null, ApiError.Invalid($"The text must not contain the set markers {SetMarkers.Start}, {SetMarkers.Split} or {SetMarkers.End}.", Name(i, messages.Count, responseNames)));

        var found = directory.Find(model);
        if (found is null || !(found.Model.Capabilities ?? []).Contains(JudgeQueues.Capability))
            return (null, ApiError.From(new ChatCompletionException(ChatErrorCodes.ModelNotFound,
                found is null ? $"The judge model '{model}' does not exist or no judge worker serves it." : $"The model '{model}' is not a judge model.", "model")));
        var turns = v.Messages;
        if (v.Images.Count > 0)
        {
            if (!found.Model.AcceptsImages)
                return (null, ApiError.Invalid($"The judge model '{model}' does not accept image input.", "messages", "image_input_not_supported"));
            try
            {
                var (attached, imageError) = await http.RequestServices.GetRequiredService<ImageInputs>().AttachAsync(chatDto, v, http.RequestAborted);
                if (imageError is not null) return (null, Rename(imageError, messages.Count, responseNames));
                turns = attached!;
            }
            catch (ChatCompletionException ex)
            {
                return (null, ApiError.From(ex));
            }
        }
        var responseTurns = turns.Skip(messages.Count).Select(t => t with { Role = "assistant" }).ToList();
        return (new JudgedInput(model, turns.Take(messages.Count).ToList(), responseTurns), null);
    }

    private static string Name(int index, int messageCount, IReadOnlyList<string> responseNames) =>
        index < messageCount ? $"messages[{index}]" : responseNames[index - messageCount];

    /// <summary>Errors about the extra messages name the response they came from.</summary>
    private static ApiError Rename(ApiError e, int messageCount, IReadOnlyList<string> responseNames)
    {
        var (message, param) = (e.Message, e.Param);
        for (int k = 0; k < responseNames.Count; k++)
        {
            var from = $"messages[{messageCount + k}]";
            message = message.Replace(from + ".content", responseNames[k], StringComparison.Ordinal).Replace(from, responseNames[k], StringComparison.Ordinal);
            param = param?.Replace(from + ".content", responseNames[k], StringComparison.Ordinal).Replace(from, responseNames[k], StringComparison.Ordinal);
        }
        return e with { Message = message, Param = param };
    }

    private static async Task<(T?, ApiError?)> ReadBodyAsync<T>(HttpContext http, GatewayOptions options) where T : class
    {
        var tooLarge = new ApiError(StatusCodes.Status413RequestEntityTooLarge,
            $"The request body is larger than the limit of {options.MaxRequestBodyBytes} bytes.", ApiError.InvalidRequest, null, "request_too_large");
        if (http.Request.ContentLength > options.MaxRequestBodyBytes) return (null, tooLarge);
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            limit.MaxRequestBodySize = options.MaxRequestBodyBytes;
        try
        {
            var dto = await JsonSerializer.DeserializeAsync<T>(http.Request.Body, OpenAiJson.Options, http.RequestAborted);
            return dto is null ? (null, ApiError.Invalid("The request body must be a JSON object.", null, "invalid_json")) : (dto, null);
        }
        catch (JsonException ex)
        {
            return (null, ApiError.Invalid($"We could not parse the JSON body of your request: {ex.Message}", ex.Path?.TrimStart('$', '.'), "invalid_json"));
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413RequestEntityTooLarge)
        {
            return (null, tooLarge);
        }
    }
}
