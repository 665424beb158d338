using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Platform.Inference.Models;
using TextLlm.Generation;

namespace Gateway.Tests.Endpoints;

[Collection(SerialCollection.Name)]
public class BackpressureTests
{
    private static StringContent Body(string extra = "") => new(
        $$"""{"model":"tiny","messages":[{"role":"user","content":"hi"}]{{extra}}}""", Encoding.UTF8, "application/json");

    [Fact]
    public async Task Post_WhenWaitingQueueIsFull_Returns429WithRetryAfter()
    {
        // No room for a waiting request at all: every request finds the queue full.
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?> { ["ChatClient:MaxWaitingRequests"] = "0" });
        var response = await host.Http.PostAsync("/v1/chat/completions", Body());
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.NotNull(response.Headers.RetryAfter);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
        Assert.Equal("queue_full", error["code"]!.GetValue<string>());
        Assert.Equal("rate_limit_error", error["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Post_WhenWorkerIsBusyAndOneRequestWaits_NextRequestGets429()
    {
        // One engine slot, one waiting place: a running stream holds the slot, a second request waits in the bus
        // queue, the third finds the waiting queue full. The running stream is long (a 128k-token context: the tiny
        // model decodes a token in tens of microseconds) so that it still holds the slot on a loaded machine when the
        // waiting request shows up, and ignores the end token (the random model samples it within a few dozen tokens,
        // which ended this stream before the waiting request arrived); the test ends it by dropping it.
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["Models:tiny:Engine:MaxConcurrentSequences"] = "1",
            ["ChatClient:MaxWaitingRequests"] = "1",
            ["TextLlm:DefaultMaxTokens"] = "200000",
        }, modelConfig: TinyModelFactory.TinyConfig() with { MaxPositionEmbeddings = 1 << 17 });
        using var first = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = Body(""","stream":true,"max_tokens":130000,"ignore_eos":true""") };
        using var running = await host.Http.SendAsync(first, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, running.StatusCode);
        using var stream = await running.Content.ReadAsStreamAsync();
        using var reader = new StreamReader(stream);
        await reader.ReadLineAsync(); // the first (role) event: the worker accepted, its only slot is taken

        var waiting = host.Http.PostAsync("/v1/chat/completions", Body(""","max_tokens":2"""));
        await WaitUntilAsync(async () => (await host.Http.GetStringAsync("/metrics")).Contains("platform_num_requests_waiting{model_name=\"tiny\"} 1"));
        var rejected = await host.Http.PostAsync("/v1/chat/completions", Body(""","max_tokens":2"""));
        Assert.Equal(HttpStatusCode.TooManyRequests, rejected.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), rejected.Headers.RetryAfter?.Delta);

        // Dropping the running stream frees the slot (the gateway cancels it on the worker); the waiting request completes.
        running.Dispose();
        var served = await waiting.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        await WaitUntilAsync(() => Task.FromResult(host.App.Services.GetRequiredService<ActiveGenerations>().Count == 0));
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!await condition()) await Task.Delay(20, deadline.Token);
    }
}
