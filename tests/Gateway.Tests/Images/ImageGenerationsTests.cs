using System.ClientModel;
using System.Net;
using System.Net.Http.Json;
using OpenAI;
using OpenAI.Images;
using Platform.Multimodal.World;

namespace Gateway.Tests.Images;

/// <summary>POST /v1/images/generations through the OpenAI SDK's ImageClient on the all-in-one demo gateway.</summary>
public class ImageGenerationsTests(DemoGatewayFixture fixture) : IClassFixture<DemoGatewayFixture>
{
    private ImageClient Client => new(DemoGatewayFixture.Model, new ApiKeyCredential("unused"),
        new OpenAIClientOptions { Endpoint = new Uri(fixture.Address, "/v1") });

    [Fact]
    public async Task GenerateImage_B64Json_ReturnsPngTheCheckerReadsAsPrompted()
    {
        GeneratedImage image = await Client.GenerateImageAsync("a large red circle at the middle center",
            new ImageGenerationOptions { ResponseFormat = GeneratedImageFormat.Bytes, Size = new GeneratedImageSize(WorldSpec.ImageSize, WorldSpec.ImageSize) });

        var found = Assert.Single(WorldImages.Read(image.ImageBytes.ToArray()));
        Assert.Equal(("red", Shape.Circle, ObjectSize.Large, 1, 1), (found.ColourName, found.Shape, found.Size, found.Row, found.Column));
        Assert.Equal("draw a large red circle at the middle center.", image.RevisedPrompt);
    }

    [Fact]
    public async Task GenerateImage_Url_ServesPngTheCheckerReadsAsPrompted()
    {
        GeneratedImage image = await Client.GenerateImageAsync("Draw a small green square at the top left.",
            new ImageGenerationOptions { ResponseFormat = GeneratedImageFormat.Uri });

        var found = Assert.Single(WorldImages.Read(await fixture.Http.GetByteArrayAsync(image.ImageUri)));
        Assert.Equal(("green", Shape.Square, ObjectSize.Small, 0, 0), (found.ColourName, found.Shape, found.Size, found.Row, found.Column));
    }

    [Fact]
    public async Task GenerateImages_N2_ReturnsTwoImages()
    {
        GeneratedImageCollection images = await Client.GenerateImagesAsync("a large blue circle at the middle center", 2,
            new ImageGenerationOptions { ResponseFormat = GeneratedImageFormat.Bytes });
        Assert.Equal(2, images.Count);
        Assert.All(images, i => Assert.Equal("blue", Assert.Single(WorldImages.Read(i.ImageBytes.ToArray())).ColourName));
    }

    [Fact]
    public async Task GenerateImage_UnsupportedSize_ThrowsWith400()
    {
        var ex = await Assert.ThrowsAsync<ClientResultException>(() => Client.GenerateImageAsync("a red circle",
            new ImageGenerationOptions { Size = GeneratedImageSize.W1024xH1024 }));
        Assert.Equal(400, ex.Status);
        Assert.Contains($"{WorldSpec.ImageSize}x{WorldSpec.ImageSize}", ex.Message);
    }

    [Theory]
    [InlineData("{\"prompt\":\"\"}", "prompt")]
    [InlineData("{\"prompt\":\"a red circle\",\"n\":0}", "n")]
    [InlineData("{\"prompt\":\"a red circle\",\"response_format\":\"png\"}", "response_format")]
    [InlineData("{\"prompt\":\"a red circle\",\"colour\":\"red\"}", "colour")]
    public async Task Generations_InvalidField_Returns400NamingIt(string body, string param)
    {
        var response = await fixture.Http.PostAsync("/v1/images/generations", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        Assert.Equal(param, error.GetProperty("error").GetProperty("param").GetString());
    }
}
