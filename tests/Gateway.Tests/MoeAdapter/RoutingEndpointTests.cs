using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Gateway.Tests.Images;

namespace Gateway.Tests.MoeAdapter;

/// <summary>GET /v1/models/{id}/routing and the worker's routing counters, through the gateway (in-memory bus).</summary>
public sealed class RoutingEndpointTests(MoeGatewayFixture fixture) : IClassFixture<MoeGatewayFixture>
{
    private const int PictureTokens = ImageTokenFolder.Grid * ImageTokenFolder.Grid + 2; // begin, codes, end

    private HttpClient Http => fixture.Host.Http;

    private async Task<JsonElement> RoutingAsync(string model)
    {
        var response = await Http.GetAsync($"/v1/models/{model}/routing");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static (long Text, long Image)[] Tokens(JsonElement routing) =>
        routing.GetProperty("layers").EnumerateArray().Select(l => (l.GetProperty("text_tokens").GetInt64(), l.GetProperty("image_tokens").GetInt64())).ToArray();

    [Fact]
    public async Task Routing_ChatWithPicture_CountsTheRequestsTokensByModality()
    {
        var before = Tokens(await RoutingAsync(MoeGatewayFixture.Drawing));
        var response = await Http.PostAsJsonAsync("/v1/chat/completions", new
        {
            model = MoeGatewayFixture.Drawing,
            messages = new[] { new { role = "user", content = "draw a blue square." } },
            temperature = 0,
            max_tokens = 40,
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var usage = json.RootElement.GetProperty("usage");
        var (prompt, completion) = (usage.GetProperty("prompt_tokens").GetInt32(), usage.GetProperty("completion_tokens").GetInt32());
        var pictures = WorldImages.MarkdownImages(json.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!).Count;
        Assert.True(pictures > 0, "the drawing model drew nothing: the image counts would prove nothing");
        var finish = json.RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString();

        var routing = await RoutingAsync(MoeGatewayFixture.Drawing);
        var after = Tokens(routing);
        Assert.Equal(2, after.Length);
        for (var layer = 0; layer < after.Length; layer++)
        {
            var (text, image) = (after[layer].Text - before[layer].Text, after[layer].Image - before[layer].Image);
            // Every prompt token and every generated token but the last is forwarded (prefix caching is off).
            Assert.Equal(prompt + completion - 1, text + image);
            // Each finished picture is begin + codes + end; an answer cut by its length may end inside one more.
            var partial = finish == "length" ? PictureTokens - 1 : 0;
            Assert.InRange(image, pictures * PictureTokens, pictures * PictureTokens + partial);
        }
        var layer0 = routing.GetProperty("layers")[0];
        Assert.Equal(2 * after[0].Image, layer0.GetProperty("experts").EnumerateArray().Sum(e => e.GetProperty("image_tokens").GetInt64())); // top-2
        Assert.Equal(1.0, layer0.GetProperty("experts").EnumerateArray().Sum(e => e.GetProperty("image_share").GetDouble()), 9);
        Assert.InRange(layer0.GetProperty("js_divergence_bits").GetDouble(), 0, 1);
        Assert.InRange(layer0.GetProperty("image_entropy_bits").GetDouble(), 0, 2); // log2 of 4 experts

        // The worker's /metrics counts the same tokens.
        var metrics = await Http.GetStringAsync("/metrics");
        Assert.Contains($"platform_moe_routed_tokens_total{{model_name=\"{MoeGatewayFixture.Drawing}\",layer=\"0\",modality=\"image\"}} {after[0].Image}", metrics);
        Assert.Contains($"platform_moe_routed_tokens_total{{model_name=\"{MoeGatewayFixture.Drawing}\",layer=\"1\",modality=\"text\"}} {after[1].Text}", metrics);
    }

    [Fact]
    public async Task Routing_TextOnlyMoeModel_CountsTextOnly()
    {
        var before = Tokens(await RoutingAsync(MoeGatewayFixture.TextOnly));
        var response = await Http.PostAsJsonAsync("/v1/chat/completions",
            new { model = MoeGatewayFixture.TextOnly, messages = new[] { new { role = "user", content = "hello there" } }, temperature = 0, max_tokens = 5 });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var routing = await RoutingAsync(MoeGatewayFixture.TextOnly);
        Assert.All(Tokens(routing).Zip(before), p =>
        {
            Assert.True(p.First.Text > p.Second.Text);
            Assert.Equal(0, p.First.Image);
        });
        Assert.False(routing.GetProperty("layers")[0].TryGetProperty("js_divergence_bits", out _)); // undefined without image tokens
    }

    [Fact]
    public async Task Routing_UnknownModel_Returns404()
    {
        var response = await Http.GetAsync("/v1/models/no-such-model/routing");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Routing_DenseModel_Returns400()
    {
        var response = await Http.GetAsync($"/v1/models/{GatewayHost.Model}/routing");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Equal("routing_not_supported", error.GetProperty("code").GetString());
    }
}
