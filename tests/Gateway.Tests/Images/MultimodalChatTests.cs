using System.ClientModel;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;
using Platform.Multimodal.World;

namespace Gateway.Tests.Images;

/// <summary>Interleaved image and text chat through the all-in-one gateway on the trained demo model, with the OpenAI SDK.</summary>
public class MultimodalChatTests(DemoGatewayFixture fixture) : IClassFixture<DemoGatewayFixture>
{
    private const string DrawLargeRedCircle = "draw a large red circle at the middle center.";

    private ChatClient Client => new(DemoGatewayFixture.Model, new ApiKeyCredential("unused"),
        new OpenAIClientOptions { Endpoint = new Uri(fixture.Address, "/v1") });

    private static ChatCompletionOptions Greedy => new() { Temperature = 0, MaxOutputTokenCount = 64 };

    [Fact]
    public async Task CompleteChat_DrawInstruction_ReturnsImageTheCheckerReadsAsRequested()
    {
        ChatCompletion completion = await Client.CompleteChatAsync([new UserChatMessage(DrawLargeRedCircle)], Greedy);

        var content = completion.Content[0].Text;
        var url = Assert.Single(WorldImages.MarkdownImages(content));
        var png = await fixture.Http.GetByteArrayAsync(url);
        var found = Assert.Single(WorldImages.Read(png));
        Assert.Equal(("red", Shape.Circle, ObjectSize.Large, 1, 1), (found.ColourName, found.Shape, found.Size, found.Row, found.Column));
    }

    [Fact]
    public async Task CompleteChat_ImageInput_CaptionNamesColourAndShape()
    {
        var png = WorldImages.Png(WorldImages.Object("blue", Shape.Circle, ObjectSize.Large, 1, 1));
        ChatCompletion completion = await Client.CompleteChatAsync(
            [new UserChatMessage(ChatMessageContentPart.CreateImagePart(BinaryData.FromBytes(png), "image/png"),
                ChatMessageContentPart.CreateTextPart("describe the image."))], Greedy);

        var caption = completion.Content[0].Text;
        Assert.Contains("blue", caption);
        Assert.Contains("circle", caption);
        Assert.Empty(WorldImages.MarkdownImages(caption));
    }

    [Fact]
    public async Task CompleteChat_RawJson_HasTextThenImagePartsInOrder()
    {
        var response = await fixture.Http.PostAsJsonAsync("/v1/chat/completions", new
        {
            model = DemoGatewayFixture.Model,
            messages = new[] { new { role = "user", content = DrawLargeRedCircle } },
            temperature = 0,
            max_tokens = 64,
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var message = json.RootElement.GetProperty("choices")[0].GetProperty("message");
        var parts = message.GetProperty("parts").EnumerateArray().ToList();
        Assert.Equal(["text", "image_url"], parts.Select(p => p.GetProperty("type").GetString()!).ToArray());
        var url = parts[1].GetProperty("image_url").GetProperty("url").GetString()!;
        Assert.Equal(parts[0].GetProperty("text").GetString() + $"![image]({url})", message.GetProperty("content").GetString());
        var image = await fixture.Http.GetAsync(url);
        Assert.Equal("image/png", image.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [InlineData("draw a large red circle at the middle center.", "generate")]
    [InlineData("show me the picture of a large red circle at the middle center.", "retrieve")]
    public async Task CompleteChat_ImagePart_SaysWhetherItWasGeneratedOrRetrieved(string prompt, string source)
    {
        var response = await fixture.Http.PostAsJsonAsync("/v1/chat/completions", new
        {
            model = DemoGatewayFixture.Model,
            messages = new[] { new { role = "user", content = prompt } },
            temperature = 0,
            max_tokens = 64,
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var image = json.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("parts").EnumerateArray()
            .Single(p => p.GetProperty("type").GetString() == "image_url");
        Assert.Equal(source, image.GetProperty("source").GetString());
    }

    [Fact]
    public async Task CompleteChatStreaming_DrawInstruction_StreamsTextThenImagePart()
    {
        var text = new System.Text.StringBuilder();
        await foreach (var update in Client.CompleteChatStreamingAsync([new UserChatMessage(DrawLargeRedCircle)], Greedy))
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
        var url = Assert.Single(WorldImages.MarkdownImages(text.ToString()));
        var found = Assert.Single(WorldImages.Read(await fixture.Http.GetByteArrayAsync(url)));
        Assert.Equal(("red", Shape.Circle), (found.ColourName, found.Shape));

        // The same stream read raw: delta.parts carry the text and then the image, in order.
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = JsonContent.Create(new
            {
                model = DemoGatewayFixture.Model,
                messages = new[] { new { role = "user", content = DrawLargeRedCircle } },
                temperature = 0,
                max_tokens = 64,
                stream = true,
            }),
        };
        using var response = await fixture.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var body = await response.Content.ReadAsStringAsync();
        var types = body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(e => e["data: ".Length..]).Where(d => d != "[DONE]")
            .Select(d => JsonDocument.Parse(d).RootElement.GetProperty("choices"))
            .Where(c => c.GetArrayLength() > 0 && c[0].GetProperty("delta").TryGetProperty("parts", out _))
            .SelectMany(c => c[0].GetProperty("delta").GetProperty("parts").EnumerateArray().Select(p => p.GetProperty("type").GetString()))
            .ToList();
        Assert.Equal("image_url", types[^1]);
        Assert.Contains("text", types[..^1]);
    }

    [Fact]
    public async Task CompleteChat_CorruptPng_Returns400InvalidImage()
    {
        var png = WorldImages.Png(WorldImages.Object("red", Shape.Square, ObjectSize.Small, 0, 0));
        var corrupt = png[..(png.Length / 2)]; // right signature, truncated data
        var (status, error) = await PostImageAsync(WorldImages.DataUrl(corrupt));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_image", error.GetProperty("code").GetString());
        Assert.Equal("messages[0].content[0].image_url.url", error.GetProperty("param").GetString());
        Assert.Contains("corrupt", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task CompleteChat_ImageOverPixelLimit_Returns400NamingTheLimit()
    {
        // 200x200 is a small file but over ImageGen:MaxImagePixels (128x128), checked on the header before decoding.
        var big = Platform.Multimodal.Imaging.ImageCodec.EncodePng(new byte[200 * 200 * 3], 200, 200);
        var (status, error) = await PostImageAsync(WorldImages.DataUrl(big));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_image", error.GetProperty("code").GetString());
        Assert.Contains($"exceeds the limit of {DemoGatewayFixture.MaxImagePixels} pixels", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task CompleteChat_ImageOverByteLimit_Returns400NamingTheLimit()
    {
        var bytes = TestImages.Png(DemoGatewayFixture.MaxImageBytes + 1);
        var (status, error) = await PostImageAsync(WorldImages.DataUrl(bytes));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains($"limit of {DemoGatewayFixture.MaxImageBytes} bytes", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task CompleteChat_NonImageBytes_Returns400()
    {
        var (status, error) = await PostImageAsync(WorldImages.DataUrl("just some text, not a picture"u8.ToArray()));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_image", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task CompleteChat_NonImageBytesViaSdk_ThrowsWith400()
    {
        var ex = await Assert.ThrowsAsync<ClientResultException>(() => Client.CompleteChatAsync(
            [new UserChatMessage(ChatMessageContentPart.CreateImagePart(BinaryData.FromString("%PDF-1.4 not an image"), "image/png"),
                ChatMessageContentPart.CreateTextPart("describe the image."))], Greedy));
        Assert.Equal(400, ex.Status);
    }

    [Fact]
    public async Task GetImage_UnknownId_Returns404()
    {
        var response = await fixture.Http.GetAsync("/v1/images/img-00000000000000000000000000000000.png");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    private async Task<(HttpStatusCode, JsonElement)> PostImageAsync(string dataUrl)
    {
        var response = await fixture.Http.PostAsJsonAsync("/v1/chat/completions", new
        {
            model = DemoGatewayFixture.Model,
            messages = new object[]
            {
                new
                {
                    role = "user",
                    content = new object[]
                    {
                        new { type = "image_url", image_url = new { url = dataUrl } },
                        new { type = "text", text = "describe the image." },
                    },
                },
            },
        });
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, json.RootElement.GetProperty("error").Clone());
    }
}
