using System.Text.Json;
using Gateway;
using Gateway.OpenAi;
using Gateway.Validation;

namespace Gateway.Tests.Validation;

public class ChatRequestValidatorTests
{
    private static readonly GatewayOptions Options = new();

    private static (ValidatedChatRequest? Request, ApiError? Error) Validate(string json) =>
        ChatRequestValidator.Validate(JsonSerializer.Deserialize<ChatCompletionRequestDto>(json, OpenAiJson.Options)!, Options);

    private static ApiError Error(string json)
    {
        var (request, error) = Validate(json);
        Assert.Null(request);
        return Assert.IsType<ApiError>(error);
    }

    [Fact]
    public void Validate_FullRequest_MapsEveryField()
    {
        var (r, error) = Validate("""
            {"model":"m","messages":[{"role":"developer","content":"be brief"},{"role":"user","content":"hi"}],
             "max_completion_tokens":7,"max_tokens":99,"temperature":0.5,"top_p":0.9,"seed":42,"stop":["a","b"],"n":2,
             "stream":true,"stream_options":{"include_usage":true},"ignore_eos":true}
            """);
        Assert.Null(error);
        Assert.NotNull(r);
        Assert.Equal("m", r.Model);
        Assert.Equal([new("system", "be brief"), new("user", "hi")], r.Messages);
        Assert.Equal(7, r.MaxTokens); // max_completion_tokens wins over the deprecated max_tokens
        Assert.Equal(0.5f, r.Sampling.Temperature);
        Assert.Equal(0.9f, r.Sampling.TopP);
        Assert.Equal(42UL, r.Sampling.Seed);
        Assert.True(r.Sampling.IgnoreEos);
        Assert.Equal(["a", "b"], r.Stop);
        Assert.Equal(2, r.N);
        Assert.True(r.Stream);
        Assert.True(r.IncludeUsage);
    }

    [Fact]
    public void Validate_Defaults_AreOpenAiDefaults()
    {
        var (r, _) = Validate("""{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":3}""");
        Assert.NotNull(r);
        Assert.Equal(3, r.MaxTokens);
        Assert.Equal(1f, r.Sampling.Temperature);
        Assert.Equal(1f, r.Sampling.TopP);
        Assert.Null(r.Sampling.Seed);
        Assert.False(r.Sampling.IgnoreEos);
        Assert.Empty(r.Stop);
        Assert.Equal(1, r.N);
        Assert.False(r.Stream);
        Assert.False(r.IncludeUsage);
    }

    [Fact]
    public void Validate_StopAsString_BecomesOneSequence()
    {
        var (r, _) = Validate("""{"model":"m","messages":[{"role":"user","content":"hi"}],"stop":"END"}""");
        Assert.Equal(["END"], r!.Stop);
    }

    [Fact]
    public void Validate_TextParts_AreJoinedWithNewlines()
    {
        var (r, _) = Validate("""
            {"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"one"},{"type":"text","text":"two"}]}]}
            """);
        Assert.Equal("one\ntwo", r!.Messages[0].Content);
    }

    [Fact]
    public void Validate_PngDataUrl_IsDecodedWithItsPosition()
    {
        var png = TestImages.Png(8);
        var (r, error) = Validate($$$"""
            {"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"look"},
              {"type":"image_url","image_url":{"url":"data:image/png;base64,{{{Convert.ToBase64String(png)}}}"}}]}]}
            """);
        Assert.Null(error);
        var image = Assert.Single(r!.Images);
        Assert.Equal((0, 1, "image/png"), (image.MessageIndex, image.PartIndex, image.MediaType));
        Assert.Equal(png, image.Bytes);
        Assert.Equal("look", r.Messages[0].Content);
    }

    [Fact]
    public void Validate_NegativeSeed_KeepsItsBits()
    {
        var (r, _) = Validate("""{"model":"m","messages":[{"role":"user","content":"hi"}],"seed":-1}""");
        Assert.Equal(ulong.MaxValue, r!.Sampling.Seed);
    }

    [Theory]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}]}""", "model", "missing_required_parameter")]
    [InlineData("""{"model":"m"}""", "messages", "missing_required_parameter")]
    [InlineData("""{"model":"m","messages":[]}""", "messages", "empty_array")]
    [InlineData("""{"model":"m","messages":[{"content":"hi"}]}""", "messages[0].role", "missing_required_parameter")]
    [InlineData("""{"model":"m","messages":[{"role":"robot","content":"hi"}]}""", "messages[0].role", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user"}]}""", "messages[0].content", "missing_required_parameter")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":[]}]}""", "messages[0].content", "empty_array")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":[{"type":"audio"}]}]}""", "messages[0].content[0].type", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]}""", "messages[0].content[0].text", "missing_required_parameter")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":0}""", "max_tokens", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":-5}""", "max_completion_tokens", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":2.5}""", "temperature", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"top_p":0}""", "top_p", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"n":0}""", "n", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"n":9}""", "n", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"stop":["a","b","c","d","e"]}""", "stop", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"stop":""}""", "stop", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":true}}""", "stream_options", "invalid_value")]
    public void Validate_BadField_Returns400NamingTheParam(string json, string param, string code)
    {
        var error = Error(json);
        Assert.Equal(400, error.Status);
        Assert.Equal("invalid_request_error", error.Type);
        Assert.Equal(param, error.Param);
        Assert.Equal(code, error.Code);
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
    }

    [Theory]
    [InlineData("https://example.com/cat.png", "remote URLs")]
    [InlineData("data:image/png,rawbytes", "base64")]
    [InlineData("data:image/bmp;base64,Qk0=", "Unsupported image type")]
    [InlineData("data:image/png;base64,@@@@", "not valid base64")]
    [InlineData("data:image/png;base64,/9j/4AAQ", "wrong signature")]
    public void Validate_BadImageUrl_Returns400InvalidImage(string url, string expected)
    {
        var error = Error($$$"""
            {"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"{{{url}}}"}}]}]}
            """);
        Assert.Equal(400, error.Status);
        Assert.Equal("messages[0].content[0].image_url.url", error.Param);
        Assert.Equal("invalid_image", error.Code);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Validate_ImageOverByteLimit_Returns400BeforeDecoding()
    {
        var options = new GatewayOptions { MaxImageBytes = 100 };
        var url = "data:image/png;base64," + Convert.ToBase64String(TestImages.Png(200));
        var dto = JsonSerializer.Deserialize<ChatCompletionRequestDto>($$$"""
            {"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"{{{url}}}"}}]}]}
            """, OpenAiJson.Options)!;
        var (_, error) = ChatRequestValidator.Validate(dto, options);
        Assert.NotNull(error);
        Assert.Contains("larger than the limit of 100 bytes", error.Message);
    }

    [Fact]
    public void Validate_ImageInAssistantMessage_Returns400()
    {
        var url = "data:image/png;base64," + Convert.ToBase64String(TestImages.Png(8));
        var error = Error($$$"""
            {"model":"m","messages":[{"role":"assistant","content":[{"type":"image_url","image_url":{"url":"{{{url}}}"}}]}]}
            """);
        Assert.Equal("messages[0].content[0]", error.Param);
    }

    [Fact]
    public void Validate_TooManyImages_Returns400()
    {
        var options = new GatewayOptions { MaxImagesPerRequest = 1 };
        var part = $$$"""{"type":"image_url","image_url":{"url":"data:image/png;base64,{{{Convert.ToBase64String(TestImages.Png(8))}}}"}}""";
        var dto = JsonSerializer.Deserialize<ChatCompletionRequestDto>(
            $$$"""{"model":"m","messages":[{"role":"user","content":[{{{part}}},{{{part}}}]}]}""", OpenAiJson.Options)!;
        var (_, error) = ChatRequestValidator.Validate(dto, options);
        Assert.Equal("messages[0].content[1]", error!.Param);
        Assert.Contains("at most 1", error.Message);
    }
}
