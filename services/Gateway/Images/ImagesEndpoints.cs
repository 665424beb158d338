using System.Text.Json;
using Gateway.OpenAi;
using Gateway.Validation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Contracts.Chat;
using Platform.ServiceDefaults.Chat;

namespace Gateway.Images;

/// <summary>GET /v1/images/{id}.png (produced images) and POST /v1/images/generations (OpenAI images API).</summary>
public static class ImagesEndpoints
{
    public static RouteGroupBuilder MapImages(this RouteGroupBuilder v1)
    {
        v1.MapGet("/images/{file}", Get);
        v1.MapPost("/images/generations", GenerateAsync);
        return v1;
    }

    public static async Task<Results<FileContentHttpResult, JsonHttpResult<ErrorBodyDto>>> Get(string file, IImageStore store, HttpContext http)
    {
        var id = file.EndsWith(".png", StringComparison.Ordinal) ? file[..^4] : file;
        return await store.GetAsync(id, http.RequestAborted) is { } png
            ? TypedResults.File(png, "image/png")
            : new ApiError(StatusCodes.Status404NotFound, $"No image '{file}' is stored here (unknown id, or evicted).",
                ApiError.InvalidRequest, "id", "image_not_found").ToResult(http);
    }

    /// <summary>
    /// The prompt is rendered as a drawing instruction in the demo world's phrasing (lower case, "draw " prepended
    /// unless it already starts with one of the world's drawing verbs, a final "."), sent through the same chat path
    /// as /v1/chat/completions (greedy unless the <c>temperature</c> extension says otherwise), and the first image slot
    /// of each answer is drawn by ImageGen with the decision forced to "generate" (the API promises a generated image,
    /// not a retrieved one). With <c>best_of</c> and <c>judge</c> (extension) the judge picks one of that many
    /// sampled pictures (<see cref="Gateway.Judge.ImageBestOf"/>). An image-token model (demo-moe) draws the picture
    /// itself: its first picture is the result, each of <c>n</c> sampled at temperature 1 unless the request sets one,
    /// and an answer without a picture is a 422 that quotes what the model wrote.
    /// </summary>
    public static async Task<Results<JsonHttpResult<ImageGenerationResponseDto>, JsonHttpResult<ErrorBodyDto>>> GenerateAsync(
        HttpContext http,
        ChatCompletionClient client,
        ModelDirectory directory,
        ImageResults images,
        ImageGenClient imageGen,
        Gateway.Judge.JudgeClient judges,
        IOptions<ImageServingOptions> imageOptions,
        TimeProvider time)
    {
        var o = imageOptions.Value;
        ImageGenerationRequestDto? dto;
        try
        {
            dto = await JsonSerializer.DeserializeAsync<ImageGenerationRequestDto>(http.Request.Body, OpenAiJson.Options, http.RequestAborted);
        }
        catch (JsonException ex)
        {
            return ApiError.Invalid($"We could not parse the JSON body of your request: {ex.Message}", ex.Path?.TrimStart('$', '.'), "invalid_json")
                .ToResult(http);
        }
        if (dto is null) return ApiError.Invalid("The request body must be a JSON object.", null, "invalid_json").ToResult(http);
        // The images API's own response_format (url / b64_json) is a named field; nothing passes through unchecked.
        if (RequestFields.Check(dto.UnknownFields, passThrough: RequestFields.None) is { } unknown) return unknown.ToResult(http);
        if (string.IsNullOrWhiteSpace(dto.Prompt))
            return ApiError.Invalid("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter").ToResult(http);
        if (dto.Prompt.Length > o.MaxPromptLength)
            return ApiError.Invalid($"Invalid 'prompt': it is longer than {o.MaxPromptLength} characters.", "prompt").ToResult(http);
        var n = dto.N ?? 1;
        if (n < 1 || n > o.MaxImagesPerGeneration)
            return ApiError.Invalid($"Invalid 'n': {n}; it must be between 1 and {o.MaxImagesPerGeneration}.", "n").ToResult(http);
        var format = dto.ResponseFormat ?? "url";
        if (format is not ("url" or "b64_json"))
            return ApiError.Invalid($"Invalid 'response_format': '{format}'; it must be 'url' or 'b64_json'.", "response_format").ToResult(http);
        if (dto.Size is not null && dto.Size != o.GenerationSize)
            return ApiError.Invalid($"Invalid 'size': '{dto.Size}'; this platform's image models make {o.GenerationSize} only.", "size").ToResult(http);
        if (dto.Temperature is { } t && (!float.IsFinite(t) || t < 0 || t > 2))
            return ApiError.Invalid($"Invalid 'temperature': {t}; it must be between 0 and 2.", "temperature").ToResult(http);
        var (bestOf, bestOfError) = Gateway.Judge.ImageBestOf.Validate(dto, n, directory, o.MaxBestOf);
        if (bestOfError is not null) return bestOfError.ToResult(http);
        var temperature = dto.Temperature ?? (bestOf is null ? 0f : 1f);
        var modelName = string.IsNullOrWhiteSpace(dto.Model) ? o.DefaultModel : dto.Model;
        var model = directory.Find(modelName);
        if (model is null)
            return ApiError.From(new ChatCompletionException(ChatErrorCodes.ModelNotFound,
                $"The model '{modelName}' does not exist or no worker serves it.", "model")).ToResult(http);
        if (!ImageResults.DrawsImages(model.Model))
            return ApiError.Invalid($"The model '{modelName}' cannot generate images.", "model", "image_generation_not_supported").ToResult(http);
        // An image-token model draws by sampling its image tokens: without a temperature, n pictures are n samples at 1.
        if (dto.Temperature is null && ImageResults.DrawsImageTokens(model.Model)) temperature = 1f;

        var imageTokens = ImageResults.DrawsImageTokens(model.Model);
        var maxTokens = imageTokens ? o.ImageTokenGenerationMaxTokens : o.GenerationMaxTokens;
        var instruction = RenderInstruction(dto.Prompt);
        var baseUrl = images.BaseUrl(http);
        // Picture i samples with seed + i, the rule chat completions apply to their n choices.
        SamplingParameters Sampling(int i) => new(temperature, 1f, dto.Seed is { } s ? unchecked((ulong)s + (ulong)i) : null);
        try
        {
            GeneratedImageDto Dto(StoredImage img) => format == "url"
                ? new GeneratedImageDto(Url: img.Url, RevisedPrompt: instruction)
                : new GeneratedImageDto(B64Json: Convert.ToBase64String(img.Produced.Png), RevisedPrompt: instruction);
            if (bestOf is { } count)
            {
                // A sampled answer may end without a picture: that candidate is listed unrated (it ranks last); the
                // request fails only when no candidate drew one.
                var sampled = await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
                {
                    try { return (Image: await GenerateOneAsync(client, images, modelName, instruction, maxTokens, Sampling(i), baseUrl, http.RequestAborted, imageTokens), Error: (string?)null); }
                    catch (ChatCompletionException ex) when (ex.Code == ChatErrorCodes.ServerError) { return (Image: (StoredImage?)null, Error: ex.Message); }
                }));
                var drawn = sampled.Select((c, i) => (c.Image, Index: i)).Where(c => c.Image is not null).ToList();
                if (drawn.Count == 0) throw new ChatCompletionException(ChatErrorCodes.ServerError, sampled[0].Error!);
                var (best, verdicts) = await Gateway.Judge.ImageBestOf.ChooseAsync(judges, imageGen, dto.Judge!, instruction,
                    drawn.Select(c => c.Image!.Produced.Png).ToList(), http.RequestAborted);
                var rated = drawn.Select((c, k) => (c.Index, Verdict: verdicts[k])).ToDictionary(x => x.Index, x => x.Verdict);
                var candidates = sampled.Select((c, i) => c.Image is not { } img
                    ? new Gateway.Judge.ImageBestOfCandidateDto(i, null, c.Error!)
                    : format == "url"
                        ? new Gateway.Judge.ImageBestOfCandidateDto(i, rated[i].Rating, rated[i].Critique, Url: img.Url)
                        : new Gateway.Judge.ImageBestOfCandidateDto(i, rated[i].Rating, rated[i].Critique, B64Json: Convert.ToBase64String(img.Produced.Png))).ToList();
                return TypedResults.Json(new ImageGenerationResponseDto(time.GetUtcNow().ToUnixTimeSeconds(), [Dto(drawn[best].Image!)], candidates), OpenAiJson.Options);
            }
            var results = await Task.WhenAll(Enumerable.Range(0, n).Select(i =>
                GenerateOneAsync(client, images, modelName, instruction, maxTokens, Sampling(i), baseUrl, http.RequestAborted, imageTokens)));
            return TypedResults.Json(new ImageGenerationResponseDto(time.GetUtcNow().ToUnixTimeSeconds(), results.Select(Dto).ToList()), OpenAiJson.Options);
        }
        catch (ChatCompletionException ex) when (ex.Code == NothingDrawn)
        {
            // The request was served; the model chose to answer in words. Not a server fault: say what it wrote.
            return new ApiError(StatusCodes.Status422UnprocessableEntity, ex.Message, ApiError.InvalidRequest, "prompt", NothingDrawn).ToResult(http);
        }
        catch (ChatCompletionException ex)
        {
            return ApiError.From(ex).ToResult(http);
        }
    }

    /// <summary>The error code of an image-token model's answer that holds no picture.</summary>
    public const string NothingDrawn = "image_not_generated";

    /// <summary>The demo world's instruction phrasing: "draw a large red circle at the middle center."</summary>
    public static string RenderInstruction(string prompt)
    {
        var text = prompt.Trim().ToLowerInvariant().TrimEnd('.', '!', '?', ' ');
        var hasVerb = Platform.Contracts.Images.DemoWorldPhrasing.DrawVerbs.Any(v => text.StartsWith(v + " ", StringComparison.Ordinal));
        return (hasVerb ? text : "draw " + text) + ".";
    }

    private static async Task<StoredImage> GenerateOneAsync(ChatCompletionClient client, ImageResults images, string model,
        string instruction, int? maxTokens, SamplingParameters sampling, string baseUrl, CancellationToken ct, bool imageTokens = false)
    {
        await using var session = await client.StartAsync(new ChatCompletionStart(model, [new ChatTurn("user", instruction)], maxTokens,
            sampling, []), ct);
        var text = new System.Text.StringBuilder();
        await foreach (var chunk in session.ReadAsync(ct))
        {
            text.Append(chunk.TextDelta);
            // The first slot is the picture; disposing the session then stops the rest of the answer on the worker.
            if (chunk.Image is not null) return await images.ProduceAsync(model, chunk.Image, "generate", baseUrl, ct);
            if (chunk.Picture is not null) return await images.StoreAsync(chunk.Picture, baseUrl, ct);
        }
        throw new ChatCompletionException(imageTokens ? NothingDrawn : ChatErrorCodes.ServerError,
            $"The model answered without an image ({session.FinishReason}): \"{text}\".");
    }
}
