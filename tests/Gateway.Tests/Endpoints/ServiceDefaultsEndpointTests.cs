using System.Diagnostics;
using System.Net;
using System.Text;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace Gateway.Tests.Endpoints;

public class ServiceDefaultsEndpointTests(GatewayFixture fixture) : IClassFixture<GatewayFixture>
{
    [Fact]
    public async Task Health_WhenModelAnnouncedAndBusUp_Returns200()
    {
        var response = await fixture.Host.Http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Alive_Returns200()
    {
        var response = await fixture.Host.Http.GetAsync("/alive");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Metrics_AfterACompletion_ExposeVllmStyleHistogramsGaugesAndCounters()
    {
        var before = await fixture.Host.Http.GetStringAsync("/metrics");
        var response = await fixture.Host.Http.PostAsync("/v1/chat/completions", new StringContent(
            """{"model":"tiny","messages":[{"role":"user","content":"count"}],"max_tokens":4}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var after = await fixture.Host.Http.GetStringAsync("/metrics");
        foreach (var name in new[]
                 {
                     "platform_time_to_first_token_seconds_bucket", "platform_inter_token_latency_seconds_bucket",
                     "platform_e2e_request_latency_seconds_bucket", "platform_request_queue_time_seconds_bucket",
                     "platform_num_requests_running", "platform_num_requests_waiting",
                     "platform_prompt_tokens_total", "platform_generation_tokens_total",
                 })
            Assert.Contains(name + "{model_name=\"tiny\"", after);
        Assert.True(Sample(after, "platform_e2e_request_latency_seconds_count") > Sample(before, "platform_e2e_request_latency_seconds_count"));
        Assert.True(Sample(after, "platform_generation_tokens_total") > Sample(before, "platform_generation_tokens_total"));
        Assert.True(Sample(after, "platform_prompt_tokens_total") > Sample(before, "platform_prompt_tokens_total"));
    }

    private static double Sample(string exposition, string name)
    {
        var line = exposition.Split('\n').FirstOrDefault(l => l.StartsWith(name + "{model_name=\"tiny\"}", StringComparison.Ordinal));
        return line is null ? 0 : double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }
}

/// <summary>
/// Test classes that run alone, after the parallel ones: OpenTelemetry's ActivityListeners are process-wide (with
/// other gateway hosts starting and stopping in parallel, this request's MassTransit spans were sometimes not
/// delivered to its host's exporter), and the backpressure scenario depends on which requests hold the worker.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public class SerialCollection
{
    public const string Name = "serial";
}

[Collection(SerialCollection.Name)]
public class TracingTests
{
    [Fact]
    public async Task ChatCompletion_TraceFollowsRequestFromGatewayThroughBusToWorker()
    {
        var exported = new List<Activity>();
        await using var host = await GatewayHost.StartAsync(configureServices: s =>
            s.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(exported)));
        var response = await host.Http.PostAsync("/v1/chat/completions", new StringContent(
            """{"model":"tiny","messages":[{"role":"user","content":"trace me"}],"max_tokens":2}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        // Spans are exported when they end, and the worker's consume span can end just after the HTTP response
        // went out: wait (bounded) for the trace to be complete instead of reading it once.
        static bool IsWorkerConsume(Activity a) => a.Source.Name == "MassTransit" && a.Kind == ActivityKind.Consumer
            && (a.DisplayName + " " + string.Join(" ", a.TagObjects.Select(t => t.Value))).Contains("chat-tiny", StringComparison.Ordinal);
        Activity? server = null;
        List<Activity> sameTrace = [];
        for (var attempt = 0; attempt < 100; attempt++)
        {
            await host.App.Services.GetRequiredService<TracerProvider>().ForceFlushAsync();
            lock (exported)
            {
                server = exported.FirstOrDefault(a => a.Kind == ActivityKind.Server && a.DisplayName.Contains("/v1/chat/completions"));
                sameTrace = server is null ? [] : exported.Where(a => a.TraceId == server.TraceId).ToList();
            }
            if (sameTrace.Any(a => a.Source.Name == "MassTransit" && a.Kind == ActivityKind.Producer) && sameTrace.Any(IsWorkerConsume)) break;
            await Task.Delay(100);
        }
        Assert.NotNull(server);
        Assert.Contains(sameTrace, a => a.Source.Name == "MassTransit" && a.Kind == ActivityKind.Producer);
        Assert.Contains(sameTrace, IsWorkerConsume);
    }
}

internal static class TracerProviderExtensions
{
    public static Task ForceFlushAsync(this TracerProvider provider)
    {
        provider.ForceFlush(5000);
        return Task.CompletedTask;
    }
}
