using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Gateway.Judge;

namespace Gateway.Tests.Judge;

public class BestOfTests(JudgeFixture fixture) : IClassFixture<JudgeFixture>
{
    [Theory]
    [InlineData(new[] { 3, 9, 5 }, 1)]
    [InlineData(new[] { 7, 7, 2 }, 0)]
    [InlineData(new[] { -1, 4, -1 }, 1)]
    [InlineData(new[] { -1, -1 }, 0)]
    [InlineData(new[] { 1, 10, 10 }, 1)]
    public void Pick_HighestRatingLowestIndexNullLast(int[] ratings, int expected) =>
        Assert.Equal(expected, BestOf.Pick(ratings.Select(r => r < 0 ? (int?)null : r).ToList()));

    private async Task<(HttpStatusCode, JsonNode)> PostAsync(JsonObject body)
    {
        using var response = await fixture.Host.Http.PostAsync("/v1/chat/completions", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    private static JsonObject Request(int bestOf, string? judge = JudgeFixture.Judge) => new()
    {
        ["model"] = GatewayHost.Model, ["best_of"] = bestOf, ["judge"] = judge, ["max_tokens"] = 6, ["temperature"] = 1.0, ["seed"] = 3,
        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Tell me about the park." }),
    };

    [Fact]
    public async Task ChatCompletions_BestOf_ReturnsTheCandidateWithTheMaximumRating()
    {
        var (status, body) = await PostAsync(Request(3));
        Assert.Equal(HttpStatusCode.OK, status);
        var candidates = body["best_of_candidates"]!.AsArray();
        Assert.Equal(3, candidates.Count);
        var ratings = candidates.Select(c => c!["rating"]?.GetValue<int>()).ToList();
        var best = BestOf.Pick(ratings);
        var choice = body["choices"]!.AsArray().Single()!;
        Assert.Equal(candidates[best]!["content"]!.GetValue<string>(), choice["message"]!["content"]!.GetValue<string>());
        Assert.All(ratings, r => Assert.True(r is null || r <= (ratings[best] ?? int.MinValue)));
        Assert.All(candidates, c => Assert.NotNull(c!["critique"]));
        // Seeds differ per candidate (seed + i), as for n choices.
        Assert.True(candidates.Select(c => c!["content"]!.GetValue<string>()).Distinct().Count() > 1);
    }

    [Fact]
    public async Task Batch_BestOfLines_EachReturnsItsTopRatedCandidate()
    {
        var lines = Enumerable.Range(0, 2).Select(i => new JsonObject
        {
            ["custom_id"] = $"best-{i}", ["method"] = "POST", ["url"] = "/v1/chat/completions", ["body"] = Request(2),
        });

        var results = await BatchRun.RunAsync(fixture.Host.Http, lines, "/v1/chat/completions");

        Assert.Equal(["best-0", "best-1"], results.Select(r => r["custom_id"]!.GetValue<string>()).Order());
        Assert.All(results, r =>
        {
            Assert.Equal(200, r["response"]!["status_code"]!.GetValue<int>());
            var body = r["response"]!["body"]!;
            var candidates = body["best_of_candidates"]!.AsArray();
            Assert.Equal(2, candidates.Count);
            var best = BestOf.Pick(candidates.Select(c => c!["rating"]?.GetValue<int>()).ToList());
            Assert.Equal(candidates[best]!["content"]!.GetValue<string>(), body["choices"]![0]!["message"]!["content"]!.GetValue<string>());
        });
    }

    [Theory]
    [InlineData(3, null, 400, "judge")]
    [InlineData(0, JudgeFixture.Judge, 400, "best_of")]
    [InlineData(2, "nope", 404, "judge")]
    [InlineData(2, GatewayHost.Model, 404, "judge")]
    public async Task ChatCompletions_BadBestOf_GetsOpenAiError(int bestOf, string? judge, int status, string param)
    {
        var request = Request(bestOf, judge);
        if (judge is null) request.Remove("judge");
        var (code, body) = await PostAsync(request);
        Assert.Equal(status, (int)code);
        Assert.Equal(param, body["error"]!["param"]!.GetValue<string>());
    }

    [Fact]
    public async Task ChatCompletions_BestOfWithStream_Gets400()
    {
        var request = Request(2);
        request["stream"] = true;
        var (code, body) = await PostAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, code);
        Assert.Equal("stream", body["error"]!["param"]!.GetValue<string>());
    }
}
