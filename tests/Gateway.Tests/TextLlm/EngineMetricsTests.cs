using System.Globalization;
using System.Net.Http.Json;
using System.Text.RegularExpressions;

namespace Gateway.Tests.TextLlm;

/// <summary>The worker's KV cache and prefix cache gauges on /metrics (vLLM's names with the platform_ prefix).</summary>
public sealed class EngineMetricsTests
{
    private static double Metric(string metrics, string name)
    {
        var m = Regex.Match(metrics, "^" + Regex.Escape(name) + "\\{model_name=\"tiny\"\\} (\\S+)$", RegexOptions.Multiline);
        Assert.True(m.Success, $"{name} not on /metrics:\n{metrics}");
        return double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Metrics_SharedSystemPrompt_CountsPrefixQueriesAndHits_AndKvUsage()
    {
        await using var host = await GatewayHost.StartAsync();
        var system = string.Concat(Enumerable.Repeat("You are a careful assistant who answers in full sentences. ", 4));
        foreach (var question in new[] { "What is a lake?", "What is a river?" })
        {
            using var response = await host.Http.PostAsJsonAsync("/v1/chat/completions", new
            {
                model = GatewayHost.Model, max_tokens = 4, temperature = 0,
                messages = new object[] { new { role = "system", content = system }, new { role = "user", content = question } },
            });
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        }

        var metrics = await host.Http.GetStringAsync("/metrics");
        double queries = Metric(metrics, "platform_prefix_cache_queries_total");
        double hits = Metric(metrics, "platform_prefix_cache_hits_total");
        Assert.True(queries > 2 * 16, $"queries {queries}");
        Assert.True(hits >= 16 && hits < queries / 2, $"hits {hits} of {queries}");   // the second request's shared blocks
        Assert.Equal(0, Metric(metrics, "platform_kv_cache_usage_perc"));   // nothing running
        Assert.Equal(0, Metric(metrics, "platform_num_preemptions_total"));
    }
}
