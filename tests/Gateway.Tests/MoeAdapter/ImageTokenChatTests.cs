using System.ClientModel;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Gateway.Tests.Images;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Images;
using Platform.Multimodal.Imaging;

namespace Gateway.Tests.MoeAdapter;

/// <summary>An image-token model (MoeAdapter worker) through the gateway with the OpenAI SDK: chat with pictures,
/// streaming, the images API, and the requests it refuses.</summary>
public sealed partial class ImageTokenChatTests(MoeGatewayFixture fixture) : IClassFixture<MoeGatewayFixture>
{
    private HttpClient Http => fixture.Host.Http;

    private ChatClient Chat(string model) => new(model, new ApiKeyCredential("unused"),
        new OpenAIClientOptions { Endpoint = new Uri(fixture.Host.Address, "/v1") });

    private ImageClient Images(string model) => new(model, new ApiKeyCredential("unused"),
        new OpenAIClientOptions { Endpoint = new Uri(fixture.Host.Address, "/v1") });

    private static ChatCompletionOptions Greedy(int maxTokens) => new() { Temperature = 0, MaxOutputTokenCount = maxTokens };

    [GeneratedRegex(@"!\[image\]\([^)]*\)")]
    private static partial Regex MarkdownImage();

    private async Task AssertPictureAsync(Uri url)
    {
        var png = await Http.GetByteArrayAsync(url);
        var (width, height, rgb) = ImageCodec.DecodeRgb(png);
        Assert.Equal((64, 64), (width, height));
        Assert.True(rgb.Max() - rgb.Min() > 0, "the decoded picture is flat");
    }

    [Fact]
    public async Task CompleteChat_DrawingModel_ReturnsTextAndStoredPicturesInOrder()
    {
        var response = await Http.PostAsJsonAsync("/v1/chat/completions", new
        {
            model = MoeGatewayFixture.Drawing,
            messages = new[] { new { role = "user", content = "draw a blue square." } },
            temperature = 0,
            max_tokens = 40,
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var message = json.RootElement.GetProperty("choices")[0].GetProperty("message");
        var content = message.GetProperty("content").GetString()!;
        var urls = WorldImages.MarkdownImages(content);
        Assert.NotEmpty(urls);
        // The parts say the same as the content, in the same order: text, then each picture where its end token came.
        var parts = message.GetProperty("parts").EnumerateArray().ToList();
        var rebuilt = string.Concat(parts.Select(p => p.GetProperty("type").GetString() == "image_url"
            ? $"![image]({p.GetProperty("image_url").GetProperty("url").GetString()})"
            : p.GetProperty("text").GetString()));
        Assert.Equal(content, rebuilt);
        Assert.Equal(urls.Count, parts.Count(p => p.GetProperty("type").GetString() == "image_url"));
        foreach (var url in urls) await AssertPictureAsync(url);
    }

    [Fact]
    public async Task CompleteChatStreaming_DrawingModel_SendsTextDeltasAndEachPictureAsItsOwnDelta()
    {
        var client = Chat(MoeGatewayFixture.Drawing);
        ChatCompletion whole = await client.CompleteChatAsync([new UserChatMessage("draw a blue square.")], Greedy(40));
        var deltas = new List<string>();
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("draw a blue square.")], Greedy(40)))
            foreach (var part in update.ContentUpdate)
                if (part.Text.Length > 0) deltas.Add(part.Text);

        var pictures = deltas.Where(d => MarkdownImage().IsMatch(d)).ToList();
        Assert.NotEmpty(pictures);
        Assert.All(pictures, p => Assert.Equal(p, MarkdownImage().Match(p).Value)); // a picture is a delta of its own
        Assert.True(deltas.Count > pictures.Count, "no text deltas beside the pictures");
        // Greedy: the stream says what the whole answer says (picture URLs differ: each request stores its own).
        static string Shape(string s) => MarkdownImage().Replace(s, "<picture>");
        Assert.Equal(Shape(whole.Content[0].Text), Shape(string.Concat(deltas)));
        foreach (var p in pictures) await AssertPictureAsync(WorldImages.MarkdownImages(p)[0]);
    }

    /// <summary>POST /v1/images/generations with a seed: the tiny random model draws only where begin-of-image wins,
    /// and an unseeded sample at temperature 1 may answer in words first (a 422), so the tests fix the samples.</summary>
    private async Task<List<JsonElement>> GenerateSeededAsync(string prompt, int n, string format, long seed)
    {
        var response = await Http.PostAsJsonAsync("/v1/images/generations", new { model = MoeGatewayFixture.Drawing, prompt, n, response_format = format, seed });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        return json.GetProperty("data").EnumerateArray().ToList();
    }

    [Fact]
    public async Task GenerateImages_N2WithSeed_ReturnsTwoSampledPngs()
    {
        var data = await GenerateSeededAsync("a large blue circle at the middle center", 2, "b64_json", seed: 3);

        Assert.Equal(2, data.Count);
        foreach (var image in data)
        {
            var (width, height, _) = ImageCodec.DecodeRgb(Convert.FromBase64String(image.GetProperty("b64_json").GetString()!));
            Assert.Equal((64, 64), (width, height));
            Assert.Equal("draw a large blue circle at the middle center.", image.GetProperty("revised_prompt").GetString());
        }
    }

    [Fact]
    public async Task GenerateImages_SameSeed_DrawsTheSamePictures()
    {
        static List<string> Pngs(List<JsonElement> data) => data.Select(d => d.GetProperty("b64_json").GetString()!).ToList();
        var first = Pngs(await GenerateSeededAsync("a small red square at the top left", 2, "b64_json", seed: 3));
        var again = Pngs(await GenerateSeededAsync("a small red square at the top left", 2, "b64_json", seed: 3));

        Assert.Equal(first, again);
        Assert.NotEqual(first[0], first[1]); // picture i samples with seed + i
    }

    [Fact]
    public async Task GenerateImage_Url_ServesTheStoredPicture()
    {
        var data = await GenerateSeededAsync("a small green square at the top left", 1, "url", seed: 3);
        await AssertPictureAsync(new Uri(data.Single().GetProperty("url").GetString()!));
    }

    [Fact]
    public async Task GenerateImage_OpenAiSdk_ReturnsAPngOrSaysItDrewNothing()
    {
        // Unseeded at temperature 1 (the images API's default for image-token models): the SDK gets a PNG, or, when the
        // sample answers in words, the 422 naming image_not_generated; never another error.
        try
        {
            GeneratedImage image = await Images(MoeGatewayFixture.Drawing).GenerateImageAsync("a large blue circle at the middle center",
                new ImageGenerationOptions { ResponseFormat = GeneratedImageFormat.Bytes });
            var (width, height, _) = ImageCodec.DecodeRgb(image.ImageBytes.ToArray());
            Assert.Equal((64, 64), (width, height));
        }
        catch (ClientResultException ex)
        {
            Assert.Equal(422, ex.Status);
            Assert.Contains("image_not_generated", ex.Message);
        }
    }

    [Fact]
    public async Task GenerateImage_ModelDrawsNothing_Returns422QuotingItsText()
    {
        var response = await Http.PostAsJsonAsync("/v1/images/generations",
            new { model = MoeGatewayFixture.Wordy, prompt = "a red circle", temperature = 0 });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Equal("image_not_generated", error.GetProperty("code").GetString());
        Assert.Contains("answered without an image", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task GenerateImage_TextOnlyMoeModel_Returns400()
    {
        var response = await Http.PostAsJsonAsync("/v1/images/generations", new { model = MoeGatewayFixture.TextOnly, prompt = "a red circle" });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Equal("image_generation_not_supported", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task CompleteChat_TextOnlyMoeModel_AnswersInText()
    {
        ChatCompletion completion = await Chat(MoeGatewayFixture.TextOnly).CompleteChatAsync([new UserChatMessage("hello")], Greedy(12));
        Assert.Equal(ChatFinishReason.Length, completion.FinishReason);
        Assert.Empty(WorldImages.MarkdownImages(completion.Content[0].Text));
        Assert.Equal(12, completion.Usage.OutputTokenCount);
    }

    [Fact]
    public async Task Models_ImageTokenModels_AnnounceTheirCapabilities()
    {
        using var json = JsonDocument.Parse(await Http.GetStringAsync("/v1/models"));
        var capabilities = json.RootElement.GetProperty("data").EnumerateArray().ToDictionary(m => m.GetProperty("id").GetString()!,
            m => m.TryGetProperty("capabilities", out var c) ? c.EnumerateArray().Select(x => x.GetString()!).ToArray() : []);
        Assert.Equal(["image-tokens", "moe-routing"], capabilities[MoeGatewayFixture.Drawing]);
        Assert.Equal(["moe-routing"], capabilities[MoeGatewayFixture.TextOnly]);
        Assert.Empty(capabilities[GatewayHost.Model]);
    }

    [Fact]
    public async Task CompleteChat_ImageInput_Returns400BeforeAnyWorkerRuns()
    {
        var png = WorldImages.Png(WorldImages.Object("red", Platform.Multimodal.World.Shape.Circle, Platform.Multimodal.World.ObjectSize.Large, 1, 1));
        var ex = await Assert.ThrowsAsync<ClientResultException>(() => Chat(MoeGatewayFixture.Drawing).CompleteChatAsync(
            [new UserChatMessage(ChatMessageContentPart.CreateImagePart(BinaryData.FromBytes(png), "image/png"),
                ChatMessageContentPart.CreateTextPart("what is it?"))], Greedy(8)));
        Assert.Equal(400, ex.Status);
        Assert.Contains("does not accept image input", ex.Message);
    }

    public static TheoryData<string, string> RefusedBodies => new()
    {
        // Tools and response_format: refused by the worker, which cannot enforce them between pictures.
        { """{"model":"tiny-moe","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]}""", "tools" },
        { """{"model":"tiny-moe","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object"}}""", "response_format" },
    };

    [Theory]
    [MemberData(nameof(RefusedBodies))]
    public async Task CompleteChat_UnsupportedInput_Returns400NamingTheField(string body, string param)
    {
        var response = await Http.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, text);
        Assert.Equal(param, JsonDocument.Parse(text).RootElement.GetProperty("error").GetProperty("param").GetString());
    }
}
