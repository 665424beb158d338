using Gateway.OpenAi;
using Gateway.Validation;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Contracts.Chat;
using Platform.ServiceDefaults.Chat;

namespace Gateway.Endpoints;

/// <summary>
/// POST /v1/completions (OpenAI's legacy text completions): each prompt runs raw, without a chat template, as its own
/// generation on the model's workers over the bus (the same queue and worker consumer as chat), JSON or SSE.
/// </summary>
public static class CompletionsEndpoint
{
    public static async Task<Results<JsonHttpResult<CompletionResponseDto>, JsonHttpResult<ErrorBodyDto>, EmptyHttpResult>> HandleAsync(
        HttpContext http,
        ChatCompletionClient client,
        ModelDirectory directory,
        IOptions<GatewayOptions> gatewayOptions,
        TimeProvider time,
        ILoggerFactory loggers)
    {
        var options = gatewayOptions.Value;
        var (dto, readError) = await ChatCompletionsEndpoint.ReadBodyAsync<CompletionRequestDto>(http, options);
        if (readError is not null) return readError.ToResult(http);
        var (request, error) = CompletionRequestValidator.Validate(dto!, options);
        if (error is not null) return error.ToResult(http);
        var r = request!;

        var model = directory.Find(r.Model);
        if (model is null || (model.Model.Capabilities?.Contains(Platform.Contracts.Judge.JudgeQueues.Capability) ?? false))
            return ApiError.From(new ChatCompletionException(ChatErrorCodes.ModelNotFound,
                $"The model '{r.Model}' does not exist or no worker serves it.", "model")).ToResult(http);
        if (r.MaxTokens >= model.Model.MaxContextTokens)
            return new ApiError(StatusCodes.Status400BadRequest,
                $"This model's maximum context length is {model.Model.MaxContextTokens} tokens, but {r.MaxTokens} completion tokens were requested.",
                ApiError.InvalidRequest, "max_tokens", ChatErrorCodes.ContextLengthExceeded).ToResult(http);

        // Ranking best_of candidates needs every candidate's token log-probabilities, asked for or not.
        int? workerLogprobs = r.BestOf > r.N ? r.Logprobs ?? 0 : r.Logprobs;
        var prompts = r.Prompt.Count;
        var sessions = new List<ChatCompletionSession>(prompts * r.BestOf);
        try
        {
            for (var p = 0; p < prompts; p++)
                for (var c = 0; c < r.BestOf; c++)
                {
                    var index = p * r.BestOf + c;
                    var sampling = r.Sampling with { Seed = r.Sampling.Seed is { } s ? unchecked(s + (ulong)index) : null };
                    sessions.Add(await client.StartAsync(new ChatCompletionStart(r.Model, [], r.MaxTokens, sampling, r.Stop,
                        Prompt: r.Prompt.Texts?[p], PromptTokens: r.Prompt.Tokens?[p], Logprobs: workerLogprobs,
                        // echo with logprobs: the prompt's own tokens are scored too (once per prompt).
                        PromptLogprobs: r.Echo && r.Logprobs is not null && c == 0), http.RequestAborted));
                }
            http.Response.Headers[ChatCompletionsEndpoint.WorkerHeader] = string.Join(",", sessions.Select(s => s.WorkerId).Distinct());

            var id = $"cmpl-{Guid.NewGuid():N}";
            var created = time.GetUtcNow().ToUnixTimeSeconds();
            var fingerprint = sessions[0].WorkerId;
            if (r.Stream)
            {
                await StreamAsync(http, r, sessions, id, created, fingerprint, loggers.CreateLogger(typeof(CompletionsEndpoint)));
                return TypedResults.Empty;
            }

            var texts = sessions.Select(_ => new System.Text.StringBuilder()).ToArray();
            var logprobs = sessions.Select(_ => new List<GeneratedTokenLogprob>()).ToArray();
            await foreach (var (index, chunk) in ChatCompletionsEndpoint.MergeAsync(sessions, http.RequestAborted))
            {
                texts[index].Append(chunk.TextDelta);
                if (chunk.Logprobs is { } lp) logprobs[index].AddRange(lp);
            }
            var choices = new List<CompletionChoiceDto>(prompts * r.N);
            for (var p = 0; p < prompts; p++)
            {
                var candidates = Enumerable.Range(p * r.BestOf, r.BestOf);
                // OpenAI's best_of: the candidates with the highest log-probability per token.
                if (r.BestOf > r.N)
                    candidates = candidates.OrderByDescending(i => logprobs[i].Count == 0 ? float.NegativeInfinity : logprobs[i].Average(t => t.Logprob))
                        .ThenBy(i => i).Take(r.N);
                var k = 0;
                foreach (var i in candidates)
                {
                    var prefix = r.Echo ? r.Prompt.Texts![p] : "";
                    choices.Add(new CompletionChoiceDto(prefix + texts[i], p * r.N + k++,
                        r.Logprobs is null ? null : LogprobDtos.ForCompletion(logprobs[i], prefix.Length, sessions[p * r.BestOf].PromptLogprobs),
                        sessions[i].FinishReason));
                }
            }
            return TypedResults.Json(new CompletionResponseDto(id, "text_completion", created, r.Model, fingerprint, choices, Usage(r, sessions)),
                OpenAiJson.Options);
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

    private static async Task StreamAsync(HttpContext http, ValidatedCompletionRequest r, List<ChatCompletionSession> sessions,
        string id, long created, string fingerprint, ILogger logger)
    {
        var response = http.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        var ct = http.RequestAborted;
        // Streams never use best_of > n (refused by validation), so session i is choice i.
        var offsets = new int[sessions.Count];
        CompletionResponseDto Chunk(int index, string text, CompletionLogprobsDto? logprobs, string? finish) =>
            new(id, "text_completion", created, r.Model, fingerprint, [new CompletionChoiceDto(text, index, logprobs, finish)], null);
        try
        {
            if (r.Echo)
                for (var i = 0; i < sessions.Count; i++)
                {
                    var prompt = r.Prompt.Texts![i / r.N];
                    offsets[i] = prompt.Length;
                    var promptLogprobs = sessions[i / r.N * r.N].PromptLogprobs is { } pl ? LogprobDtos.ForCompletion([], prompt.Length, pl) : null;
                    await ChatCompletionsEndpoint.WriteEventAsync(response, Chunk(i, prompt, promptLogprobs, null), ct);
                }
            await response.Body.FlushAsync(ct);
            await foreach (var (index, chunk) in ChatCompletionsEndpoint.MergeAsync(sessions, ct))
            {
                var lp = r.Logprobs is not null && chunk.Logprobs is { Count: > 0 } l ? LogprobDtos.ForCompletion(l, offsets[index]) : null;
                offsets[index] += chunk.TextDelta.Length;
                if (chunk.TextDelta.Length > 0 || lp is not null || chunk.FinishReason is not null)
                    await ChatCompletionsEndpoint.WriteEventAsync(response, Chunk(index, chunk.TextDelta, lp, chunk.FinishReason), ct);
                await response.Body.FlushAsync(ct);
            }
            if (r.IncludeUsage)
                await ChatCompletionsEndpoint.WriteEventAsync(response,
                    new CompletionResponseDto(id, "text_completion", created, r.Model, fingerprint, [], Usage(r, sessions)), ct);
            await response.WriteAsync("data: [DONE]\n\n", ct);
            await response.Body.FlushAsync(ct);
        }
        catch (ChatCompletionException ex)
        {
            // As for chat: one error event, then the connection is aborted without [DONE].
            logger.LogWarning("Stream {Id} failed after it started: {Code} {Message}", id, ex.Code, ex.Message);
            await ChatCompletionsEndpoint.WriteEventAsync(response, ApiError.From(ex).ToBody(), CancellationToken.None);
            await response.Body.FlushAsync(CancellationToken.None);
            http.Abort();
        }
    }

    /// <summary>Each prompt's tokens once (all its candidates read the same prompt), every candidate's completion tokens.</summary>
    private static UsageDto Usage(ValidatedCompletionRequest r, List<ChatCompletionSession> sessions)
    {
        var prompt = Enumerable.Range(0, r.Prompt.Count).Sum(p => sessions[p * r.BestOf].PromptTokens);
        var cached = Enumerable.Range(0, r.Prompt.Count).Sum(p => sessions[p * r.BestOf].CachedPromptTokens);
        var completion = sessions.Sum(s => s.CompletionTokens);
        return new UsageDto(prompt, completion, prompt + completion, new PromptTokensDetailsDto(cached));
    }
}
