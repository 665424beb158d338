using System.Net;
using System.Text.Json.Nodes;
using static Gateway.Tests.Endpoints.ApiTestHttp;

namespace Gateway.Tests.Endpoints;

/// <summary>POST /v1/embeddings on the all-in-one gateway: pooled hidden states of the tiny model, over the bus.</summary>
public class EmbeddingsEndpointTests(GatewayFixture fixture) : IClassFixture<GatewayFixture>
{
    private const int Hidden = 64; // TinyModelFactory.TinyConfig's hidden size

    private HttpClient Http => fixture.Host.Http;

    private static string Body(string extra, string input = "\"a red circle\"") =>
        $$"""{"model":"{{GatewayHost.Model}}","input":{{input}}{{extra}}}""";

    private Task<(HttpStatusCode Status, JsonNode Body)> PostAsync(string json) => ApiTestHttp.PostAsync(Http, "/v1/embeddings", json);

    private static float[] Floats(JsonNode item) => item["embedding"]!.AsArray().Select(x => x!.GetValue<float>()).ToArray();

    [Fact]
    public async Task Post_String_ReturnsUnitVectorWithUsageAndPooling()
    {
        var (status, body) = await PostAsync(Body(""));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("list", body["object"]!.GetValue<string>());
        Assert.Equal("last_token", body["pooling"]!.GetValue<string>());
        var item = Assert.Single(body["data"]!.AsArray())!;
        Assert.Equal("embedding", item["object"]!.GetValue<string>());
        var v = Floats(item);
        Assert.Equal(Hidden, v.Length);
        Assert.Equal(1.0, Math.Sqrt(v.Sum(x => (double)x * x)), 4);
        var usage = body["usage"]!;
        Assert.True(usage["prompt_tokens"]!.GetValue<int>() > 0);
        Assert.Equal(usage["prompt_tokens"]!.GetValue<int>(), usage["total_tokens"]!.GetValue<int>());
    }

    [Fact]
    public async Task Post_Base64_DecodesToTheFloatVector()
    {
        var (_, floats) = await PostAsync(Body(""));
        var (status, b64) = await PostAsync(Body(""","encoding_format":"base64" """));
        Assert.Equal(HttpStatusCode.OK, status);
        var bytes = Convert.FromBase64String(b64["data"]![0]!["embedding"]!.GetValue<string>());
        var decoded = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, decoded, 0, bytes.Length);
        Assert.Equal(Floats(floats["data"]![0]!), decoded);
    }

    [Fact]
    public async Task Post_List_OneVectorPerInputInOrder()
    {
        var (status, body) = await PostAsync(Body("", """["a red circle","a blue square","a red circle"]"""));
        Assert.Equal(HttpStatusCode.OK, status);
        var data = body["data"]!.AsArray();
        Assert.Equal([0, 1, 2], data.Select(d => d!["index"]!.GetValue<int>()));
        Assert.Equal(Floats(data[0]!), Floats(data[2]!));
        Assert.NotEqual(Floats(data[0]!), Floats(data[1]!));
        var (_, red) = await PostAsync(Body(""));
        var (_, blue) = await PostAsync(Body("", "\"a blue square\""));
        Assert.Equal(2 * red["usage"]!["prompt_tokens"]!.GetValue<int>() + blue["usage"]!["prompt_tokens"]!.GetValue<int>(),
            body["usage"]!["prompt_tokens"]!.GetValue<int>());
        // An input's vector does not depend on the other inputs of the request.
        Assert.Equal(Floats(red["data"]![0]!), Floats(data[0]!));
        Assert.Equal(Floats(blue["data"]![0]!), Floats(data[1]!));
    }

    [Fact]
    public async Task Post_TokenIds_AreEmbedded()
    {
        var (status, body) = await PostAsync(Body("", "[[5,300,45],[7,8]]"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2, body["data"]!.AsArray().Count);
        Assert.Equal(5, body["usage"]!["prompt_tokens"]!.GetValue<int>());
    }

    [Fact]
    public async Task Post_Dimensions_ShortensAndRenormalises()
    {
        var (status, body) = await PostAsync(Body(""","dimensions":8"""));
        Assert.Equal(HttpStatusCode.OK, status);
        var v = Floats(body["data"]![0]!);
        Assert.Equal(8, v.Length);
        Assert.Equal(1.0, Math.Sqrt(v.Sum(x => (double)x * x)), 4);
        var (tooMany, error) = await PostAsync(Body($$""","dimensions":{{Hidden + 1}}"""));
        Assert.Equal(HttpStatusCode.BadRequest, tooMany);
        AssertError(error, "dimensions", "invalid_value");
    }

    [Theory]
    [InlineData(""","encoding_format":"int8" """, "\"x\"", "encoding_format", "invalid_value")]
    [InlineData("", "[]", "input", "empty_array")]
    [InlineData("", "[\"\"]", "input", "invalid_value")]
    [InlineData(""","dimensions":0""", "\"x\"", "dimensions", "invalid_value")]
    [InlineData(""","pooling":"mean" """, "\"x\"", "pooling", "unknown_parameter")]
    public async Task Post_BadField_Is400NamingIt(string extra, string input, string param, string code)
    {
        var (status, body) = await PostAsync(Body(extra, input));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, param, code);
    }

    [Fact]
    public async Task Post_TooLongInput_Is400ContextLength()
    {
        var text = string.Join(" ", Enumerable.Repeat("word", 3000));
        var (status, body) = await PostAsync(Body("", $"\"{text}\""));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, "input", "context_length_exceeded");
    }

    [Fact]
    public async Task Post_UnknownModel_Is404()
    {
        var (status, body) = await PostAsync("""{"model":"missing","input":"x"}""");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("model_not_found", body["error"]!["code"]!.GetValue<string>());
    }
}

/// <summary>A model whose registry entry says "Pooling": "mean".</summary>
public class MeanPoolingEmbeddingsTests
{
    [Fact]
    public async Task Post_MeanPooledModel_SaysSoAndReturnsAUnitVector()
    {
        await using var mean = await GatewayHost.StartAsync(new Dictionary<string, string?> { [$"Models:{GatewayHost.Model}:Pooling"] = "mean" });
        var json = $$"""{"model":"{{GatewayHost.Model}}","input":"a red circle at the center"}""";
        var (status, body) = await ApiTestHttp.PostAsync(mean.Http, "/v1/embeddings", json);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("mean", body["pooling"]!.GetValue<string>());
        var v = body["data"]![0]!["embedding"]!.AsArray().Select(x => x!.GetValue<float>()).ToArray();
        Assert.Equal(1.0, Math.Sqrt(v.Sum(x => (double)x * x)), 4);
    }
}
