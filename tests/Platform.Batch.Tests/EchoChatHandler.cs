using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Platform.Batch.Processing;

namespace Platform.Batch.Tests;

/// <summary>
/// Test double of the chat endpoint: validates like the gateway (model, non-empty messages) and answers with a
/// chat.completion whose content echoes the last message. Model "missing-model" fails at run time with 404 (as an
/// unknown model does); a last message "flaky" throws a transient failure on its first attempt. Records the peak
/// number of concurrent executions so the concurrency budget can be checked.
/// </summary>
public sealed class EchoChatHandler : IBatchEndpointHandler
{
    private int _running;
    private readonly ConcurrentDictionary<string, int> _attempts = new();

    public int PeakConcurrency;
    public int Executions;
    public TimeSpan Delay { get; set; } = TimeSpan.FromMilliseconds(20);
    /// <summary>While set, executions wait on it (lets a test hold items in flight).</summary>
    public TaskCompletionSource? Gate { get; set; }
    /// <summary>When set, only messages starting with this text wait on <see cref="Gate"/>.</summary>
    public string? BlockPrefix { get; set; }

    public string Endpoint => "/v1/chat/completions";

    public BatchBodyError? Validate(JsonElement body)
    {
        if (!body.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.String)
            return new BatchBodyError("You must provide a model parameter.", "model");
        if (!body.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0)
            return new BatchBodyError("'messages' must contain at least one message.", "messages");
        return null;
    }

    public async Task<BatchItemResponse> ExecuteAsync(JsonElement body, DateTimeOffset firstDispatchedAt, CancellationToken cancellationToken)
    {
        var now = Interlocked.Increment(ref _running);
        InterlockedMax(ref PeakConcurrency, now);
        try
        {
            Interlocked.Increment(ref Executions);
            var text = body.GetProperty("messages")[0].GetProperty("content").GetString() ?? "";
            if (Gate is { } gate && (BlockPrefix is null || text.StartsWith(BlockPrefix, StringComparison.Ordinal)))
                await gate.Task.WaitAsync(cancellationToken);
            await Task.Delay(Delay, cancellationToken);
            var model = body.GetProperty("model").GetString()!;
            var content = body.GetProperty("messages")[body.GetProperty("messages").GetArrayLength() - 1].GetProperty("content").GetString() ?? "";
            var requestId = "req_" + Guid.NewGuid().ToString("N");
            if (content == "flaky" && _attempts.AddOrUpdate(content + body.GetRawText().GetHashCode(), 1, (_, n) => n + 1) == 1)
                throw new BatchItemTransientException("worker_unavailable: simulated worker restart");
            if (model == "missing-model")
                return new BatchItemResponse(404, requestId, OpenAiErrors.Body(
                    $"The model '{model}' does not exist or no worker serves it.", param: "model", code: "model_not_found").ToJsonString());
            var response = new JsonObject
            {
                ["id"] = "chatcmpl-" + requestId, ["object"] = "chat.completion", ["created"] = 1, ["model"] = model,
                ["choices"] = new JsonArray(new JsonObject
                {
                    ["index"] = 0, ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = "echo: " + content },
                    ["finish_reason"] = "stop",
                }),
                ["usage"] = new JsonObject { ["prompt_tokens"] = 1, ["completion_tokens"] = 1, ["total_tokens"] = 2 },
            };
            return new BatchItemResponse(200, requestId, response.ToJsonString());
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while (value > (current = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, current) != current) { }
    }
}
