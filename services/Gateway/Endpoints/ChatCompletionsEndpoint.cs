using System.Text.Json;
using System.Threading.Channels;
using Gateway.Images;
using Gateway.OpenAi;
using Gateway.Validation;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Contracts.Chat;
using Platform.ServiceDefaults.Chat;

namespace Gateway.Endpoints;

/// <summary>POST /v1/chat/completions: validate, start one generation per choice on the workers, answer JSON or SSE.</summary>
public static class ChatCompletionsEndpoint
{
    public const string WorkerHeader = "X-Platform-Worker";

    public static async Task<Results<JsonHttpResult<ChatCompletionResponseDto>, JsonHttpResult<ErrorBodyDto>, EmptyHttpResult>> HandleAsync(
        HttpContext http,
        ChatCompletionClient client,
        ModelDirectory directory,
        IOptions<GatewayOptions> gatewayOptions,
        TimeProvider time,
        ILoggerFactory loggers)
    {
        var options = gatewayOptions.Value;
        var (dto, readError) = await ReadBodyAsync<ChatCompletionRequestDto>(http, options);
        if (readError is not null) return readError.ToResult(http);

        var (request, error) = ChatRequestValidator.Validate(dto!, options);
        if (error is not null) return error.ToResult(http);
        var r = request!;
        // Best-of-n with a judge: best_of candidates run as choices, the judge picks one (see Judge/BestOf.cs).
        var (bestOf, bestOfError) = Gateway.Judge.BestOf.Validate(dto!, r, directory, options);
        if (bestOfError is not null) return bestOfError.ToResult(http);
        if (bestOf is { } candidates) r = r with { N = candidates };

        var model = directory.Find(r.Model);
        // Judge models are served on the judge queues only (POST /v1/judge/...), not as chat models.
        if (model is null || (model.Model.Capabilities?.Contains(Platform.Contracts.Judge.JudgeQueues.Capability) ?? false))
            return ApiError.From(new ChatCompletionException(ChatErrorCodes.ModelNotFound,
                $"The model '{r.Model}' does not exist or no worker serves it.", "model")).ToResult(http);
        if (r.Images.Count > 0 && !model.Model.AcceptsImages)
            return ApiError.Invalid($"The model '{r.Model}' does not accept image input.", "messages", "image_input_not_supported").ToResult(http);
        if (r.MaxTokens >= model.Model.MaxContextTokens)
            return new ApiError(StatusCodes.Status400BadRequest,
                $"This model's maximum context length is {model.Model.MaxContextTokens} tokens, but {r.MaxTokens} completion tokens were requested.",
                ApiError.InvalidRequest, "max_tokens", ChatErrorCodes.ContextLengthExceeded).ToResult(http);

        // Input images are encoded by ImageGen before any generation starts, so a bad image is a plain 400.
        // Resolved here rather than as parameters so direct callers (the batch handler) keep the same signature.
        var imageInputs = http.RequestServices.GetRequiredService<ImageInputs>();
        var imageResults = http.RequestServices.GetRequiredService<ImageResults>();
        var messages = r.Messages;
        // Uploaded images, and earlier pictures a plain client sends back as markdown links to /v1/images (ImageInputs).
        if (r.Images.Count > 0 || (model.Model.AcceptsImages && imageInputs.HasStoredLinks(r.Messages)))
        {
            try
            {
                var (turns, imageError) = await imageInputs.AttachAsync(dto!, r, http.RequestAborted);
                if (imageError is not null) return imageError.ToResult(http);
                messages = turns!;
            }
            catch (ChatCompletionException ex)
            {
                return ApiError.From(ex).ToResult(http);
            }
        }
        // GILL models and image-token models both answer with pictures; only GILL models read them.
        var multimodal = ImageResults.DrawsImages(model.Model);
        var baseUrl = imageResults.BaseUrl(http);

        var sessions = new List<ChatCompletionSession>(r.N);
        try
        {
            for (var i = 0; i < r.N; i++)
            {
                // Each choice is its own sequence; with a seed, choice i uses seed + i so choices differ but stay reproducible.
                var sampling = r.Sampling with { Seed = r.Sampling.Seed is { } s ? unchecked(s + (ulong)i) : null };
                sessions.Add(await client.StartAsync(new ChatCompletionStart(r.Model, messages, r.MaxTokens, sampling, r.Stop,
                    Logprobs: r.Logprobs, ResponseFormat: r.ResponseFormat, Tools: r.Tools), http.RequestAborted));
            }
            http.Response.Headers[WorkerHeader] = string.Join(",", sessions.Select(s => s.WorkerId).Distinct());

            var id = $"chatcmpl-{Guid.NewGuid():N}";
            var created = time.GetUtcNow().ToUnixTimeSeconds();
            var fingerprint = sessions[0].WorkerId;
            if (r.Stream)
            {
                await StreamAsync(http, r, sessions, id, created, fingerprint, loggers.CreateLogger(typeof(ChatCompletionsEndpoint)),
                    multimodal ? imageResults : null, baseUrl);
                return TypedResults.Empty;
            }

            // Text and images in order: an image slot becomes a PNG from ImageGen, stored and referenced by URL.
            var answers = Enumerable.Range(0, r.N).Select(_ => new InterleavedAnswer()).ToArray();
            var logprobs = Enumerable.Range(0, r.N).Select(_ => new List<ChatTokenLogprobDto>()).ToArray();
            var calls = new IReadOnlyList<ChatToolCall>?[r.N];
            await foreach (var (index, chunk) in MergeAsync(sessions, http.RequestAborted))
            {
                answers[index].AddText(chunk.TextDelta);
                if (chunk.Logprobs is { } lp) logprobs[index].AddRange(lp.Select(LogprobDtos.ForChat));
                if (chunk.ToolCalls is { Count: > 0 } made) calls[index] = made;
                if (chunk.Image is not null)
                    answers[index].AddImage(await imageResults.ProduceAsync(r.Model, chunk.Image, null, baseUrl, http.RequestAborted));
                if (chunk.Picture is not null)
                    answers[index].AddImage(await imageResults.StoreAsync(chunk.Picture, baseUrl, http.RequestAborted));
            }
            var choices = sessions.Select((s, i) => new ChatChoiceDto(i, calls[i] is { } made
                    // OpenAI's shape for calls: content null unless the model wrote text before them.
                    ? new AssistantMessageDto("assistant", answers[i].Content.Length == 0 ? null : answers[i].Content, null, ToolCallsDto(made))
                    : new AssistantMessageDto("assistant", answers[i].Content, multimodal ? answers[i].Parts : null), s.FinishReason,
                r.Logprobs is null ? null : new ChatLogprobsDto(logprobs[i]))).ToList();
            if (bestOf is not null)
            {
                var (judgeMessages, judgeImageError) = await Gateway.Judge.BestOf.JudgeTurnsAsync(imageInputs, dto!, r, http.RequestAborted);
                if (judgeImageError is not null) return judgeImageError.ToResult(http);
                var (best, rated) = await Gateway.Judge.BestOf.ChooseAsync(http.RequestServices.GetRequiredService<Gateway.Judge.JudgeClient>(),
                    dto!.Judge!, judgeMessages!, answers.Select(a => a.Content).ToList(), http.RequestAborted);
                return TypedResults.Json(new ChatCompletionResponseDto(id, "chat.completion", created, r.Model, sessions[best].WorkerId,
                    [choices[best] with { Index = 0 }], Usage(sessions), rated), OpenAiJson.Options);
            }
            return TypedResults.Json(new ChatCompletionResponseDto(id, "chat.completion", created, r.Model, fingerprint, choices,
                Usage(sessions)), OpenAiJson.Options);
        }
        catch (ChatCompletionException ex) when (!http.Response.HasStarted)
        {
            return ApiError.From(ex).ToResult(http);
        }
        finally
        {
            foreach (var s in sessions) await s.DisposeAsync();
        }
    }

    /// <summary>Reads a JSON request body within Gateway:MaxRequestBodyBytes; malformed JSON is a 400, too large a 413.</summary>
    internal static async Task<(T?, ApiError?)> ReadBodyAsync<T>(HttpContext http, GatewayOptions options) where T : class
    {
        var tooLarge = new ApiError(StatusCodes.Status413RequestEntityTooLarge,
            $"The request body is larger than the limit of {options.MaxRequestBodyBytes} bytes.", ApiError.InvalidRequest, null, "request_too_large");
        if (http.Request.ContentLength > options.MaxRequestBodyBytes) return (null, tooLarge);
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            limit.MaxRequestBodySize = options.MaxRequestBodyBytes;
        try
        {
            var dto = await JsonSerializer.DeserializeAsync<T>(http.Request.Body, OpenAiJson.Options, http.RequestAborted);
            return dto is null
                ? (null, ApiError.Invalid("The request body must be a JSON object.", null, "invalid_json"))
                : (dto, null);
        }
        catch (JsonException ex)
        {
            return (null, ApiError.Invalid(
                $"We could not parse the JSON body of your request: {ex.Message}", ex.Path?.TrimStart('$', '.'), "invalid_json"));
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413RequestEntityTooLarge)
        {
            return (null, tooLarge);
        }
    }

    private static async Task StreamAsync(HttpContext http, ValidatedChatRequest r, List<ChatCompletionSession> sessions,
        string id, long created, string fingerprint, ILogger logger, ImageResults? images, string baseUrl)
    {
        var response = http.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        var ct = http.RequestAborted;

        ChatCompletionChunkDto Chunk(int index, DeltaDto delta, string? finish, ChatLogprobsDto? logprobs = null) =>
            new(id, "chat.completion.chunk", created, r.Model, fingerprint, [new ChunkChoiceDto(index, delta, finish, logprobs)]);

        for (var i = 0; i < sessions.Count; i++)
            await WriteEventAsync(response, Chunk(i, new DeltaDto(Role: "assistant", Content: ""), null), ct);
        await response.Body.FlushAsync(ct);
        try
        {
            await foreach (var (index, chunk) in MergeAsync(sessions, ct))
            {
                var logprobs = r.Logprobs is not null && chunk.Logprobs is { Count: > 0 } lp ? new ChatLogprobsDto(lp.Select(LogprobDtos.ForChat).ToList()) : null;
                if (chunk.TextDelta.Length > 0 || logprobs is not null)
                    await WriteEventAsync(response, Chunk(index, new DeltaDto(Content: chunk.TextDelta,
                        Parts: images is null || chunk.TextDelta.Length == 0 ? null : [OutputPartDto.ForText(chunk.TextDelta)]), null, logprobs), ct);
                if ((chunk.Image is not null || chunk.Picture is not null) && images is not null)
                {
                    // A GILL slot is drawn by ImageGen now; an image-token model's picture arrives decoded.
                    var image = chunk.Picture is { } picture
                        ? await images.StoreAsync(picture, baseUrl, ct)
                        : await images.ProduceAsync(r.Model, chunk.Image!, null, baseUrl, ct);
                    await WriteEventAsync(response, Chunk(index, new DeltaDto(Content: image.Markdown,
                        Parts: [OutputPartDto.ForImage(image.Url, image.Produced.Decision)]), null), ct);
                }
                if (chunk.ToolCalls is { Count: > 0 } made)
                    await WriteEventAsync(response, Chunk(index, new DeltaDto(ToolCalls: made.Select((c, k) =>
                        new ToolCallDeltaDto(k, c.Id, "function", new FunctionCallResponseDto(c.Name, c.Arguments))).ToList()), null), ct);
                if (chunk.FinishReason is not null)
                    await WriteEventAsync(response, Chunk(index, new DeltaDto(), chunk.FinishReason), ct);
                await response.Body.FlushAsync(ct);
            }
            if (r.IncludeUsage)
                await WriteEventAsync(response,
                    new ChatCompletionChunkDto(id, "chat.completion.chunk", created, r.Model, fingerprint, [], Usage(sessions)), ct);
            await response.WriteAsync("data: [DONE]\n\n", ct);
            await response.Body.FlushAsync(ct);
        }
        catch (ChatCompletionException ex)
        {
            // Headers are gone: report the error as an event, then abort the connection so no client mistakes the
            // truncated stream for a complete one (there is deliberately no [DONE]).
            logger.LogWarning("Stream {Id} failed after it started: {Code} {Message}", id, ex.Code, ex.Message);
            await WriteEventAsync(response, ApiError.From(ex).ToBody(), CancellationToken.None);
            await response.Body.FlushAsync(CancellationToken.None);
            http.Abort();
        }
    }

    internal static async Task WriteEventAsync<T>(HttpResponse response, T payload, CancellationToken ct)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(payload, OpenAiJson.Options);
        await response.Body.WriteAsync("data: "u8.ToArray(), ct);
        await response.Body.WriteAsync(json, ct);
        await response.Body.WriteAsync("\n\n"u8.ToArray(), ct);
    }

    /// <summary>Chunks of all sessions as they arrive, tagged with the choice index; the first failure is rethrown.</summary>
    internal static async IAsyncEnumerable<(int Index, ChatCompletionChunkProduced Chunk)> MergeAsync(
        List<ChatCompletionSession> sessions, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        if (sessions.Count == 1)
        {
            await foreach (var c in sessions[0].ReadAsync(ct)) yield return (0, c);
            yield break;
        }
        var channel = Channel.CreateUnbounded<(int, ChatCompletionChunkProduced)>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var readers = sessions.Select(async (s, i) =>
        {
            await foreach (var c in s.ReadAsync(stop.Token)) await channel.Writer.WriteAsync((i, c), stop.Token);
        }).ToList();
        _ = Task.WhenAll(readers).ContinueWith(t => channel.Writer.TryComplete(t.Exception?.InnerException), TaskScheduler.Default);
        try
        {
            await foreach (var item in channel.Reader.ReadAllAsync(ct)) yield return item;
        }
        finally
        {
            await stop.CancelAsync();
        }
    }

    private static List<ToolCallResponseDto> ToolCallsDto(IReadOnlyList<ChatToolCall> calls) =>
        calls.Select(c => new ToolCallResponseDto(c.Id, "function", new FunctionCallResponseDto(c.Name, c.Arguments))).ToList();

    private static UsageDto Usage(List<ChatCompletionSession> sessions)
    {
        var prompt = sessions[0].PromptTokens;
        var completion = sessions.Sum(s => s.CompletionTokens);
        // The prompt is counted once (from the first choice), and so are its cached tokens.
        return new UsageDto(prompt, completion, prompt + completion, new PromptTokensDetailsDto(sessions[0].CachedPromptTokens));
    }
}
