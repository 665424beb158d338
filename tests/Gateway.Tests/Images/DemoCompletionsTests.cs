using System.Net;
using Gateway.Tests.Endpoints;

namespace Gateway.Tests.Images;

/// <summary>Text completions and embeddings on the multimodal demo model: raw text in, text out, no image parts.</summary>
public class DemoCompletionsTests(DemoGatewayFixture fixture) : IClassFixture<DemoGatewayFixture>
{
    [Fact]
    public async Task Completions_DemoModel_ReturnsPlainTextWithoutImageParts()
    {
        var (status, body) = await ApiTestHttp.PostAsync(fixture.Http, "/v1/completions",
            $$"""{"model":"{{DemoGatewayFixture.Model}}","prompt":"draw a large red circle at the center.","max_tokens":24,"temperature":0}""");
        Assert.True(status == HttpStatusCode.OK, body.ToJsonString());
        var choice = body["choices"]![0]!;
        Assert.Null(choice["parts"]);
        Assert.DoesNotContain("/v1/images/", choice["text"]!.GetValue<string>());
        Assert.InRange(body["usage"]!["completion_tokens"]!.GetValue<int>(), 1, 24);
    }

    [Fact]
    public async Task Embeddings_DemoModel_SimilarCaptionsAreCloserThanDifferentOnes()
    {
        var (status, body) = await ApiTestHttp.PostAsync(fixture.Http, "/v1/embeddings",
            $$"""{"model":"{{DemoGatewayFixture.Model}}","input":["a large red circle at the center.","a large red circle at the top left.","a small blue triangle at the bottom right."]}""");
        Assert.True(status == HttpStatusCode.OK, body.ToJsonString());
        var v = body["data"]!.AsArray().Select(d => d!["embedding"]!.AsArray().Select(x => x!.GetValue<float>()).ToArray()).ToArray();
        static double Dot(float[] a, float[] b) => a.Zip(b, (x, y) => (double)x * y).Sum();
        Assert.True(Dot(v[0], v[1]) > Dot(v[0], v[2]), $"cos(red circle, red circle elsewhere) {Dot(v[0], v[1]):F3} vs cos(red circle, blue triangle) {Dot(v[0], v[2]):F3}");
    }
}
