using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Platform.Inference.Models;
using Platform.Inference.Tokenization;
using Platform.Multimodal.Imaging;
using Platform.Multimodal.Models;
using Platform.Multimodal.Training;
using Platform.Multimodal.World;

namespace Gateway.Tests.Judge;

/// <summary>
/// A judge that sees images, in the all-in-one gateway on the in-memory bus: a tiny random Llama judge whose folder is
/// also an input-only multimodal folder (visual encoder + projection into the judge's hidden size, as
/// tools/Platform.Train judge writes it), registered with Multimodal = true. Its images take the chat path: the
/// gateway asks ImageGen to encode them for the judge model and the judge's engine splices the visual tokens.
/// </summary>
public sealed class MultimodalJudgeFixture : IAsyncLifetime
{
    public const string Judge = "tiny-eyes-judge";
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "mm-judge-tests-" + Guid.NewGuid().ToString("N"));
    public GatewayHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var config = TinyModelFactory.TinyConfig() with { MaxPositionEmbeddings = 4096 };
        var judge = TinyModelFactory.Create(Path.Combine(_folder, "judge"), config, TokenizerKind.SentencePiece, seed: 11, chatTemplate: null);
        TorchSharp.torch.manual_seed(12);
        using (var input = new VisualInput(new MultimodalConfig { LmHiddenSize = config.HiddenSize, InputOnly = true }))
            InputOnlyFolder.Write(judge, input);
        Host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            [$"Models:{Judge}:Path"] = judge,
            [$"Models:{Judge}:Kind"] = "judge",
            [$"Models:{Judge}:Multimodal"] = "true",
            [$"Models:{Judge}:Engine:MaxConcurrentSequences"] = "2",
            [$"Models:{Judge}:Engine:MaxContextTokens"] = "4096",
            ["Judge:MaxTokens"] = "12",
        });
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!(await Host.Http.GetStringAsync("/v1/models", deadline.Token)).Contains(Judge, StringComparison.Ordinal))
            await Task.Delay(50, deadline.Token);
    }

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }
}

public class MultimodalJudgeTests(MultimodalJudgeFixture fixture) : IClassFixture<MultimodalJudgeFixture>
{
    private HttpClient Http => fixture.Host.Http;

    private static string DataUrl(SceneObject o) =>
        "data:image/png;base64," + Convert.ToBase64String(ImageCodec.EncodePng(SceneRenderer.Render(new Scene([o])), SceneRenderer.Size, SceneRenderer.Size));

    private static readonly string RedCircle = DataUrl(new SceneObject(0, Shape.Circle, ObjectSize.Small, 0, 0));
    private static readonly string BlueSquare = DataUrl(new SceneObject(2, Shape.Square, ObjectSize.Large, 2, 2));

    private static JsonArray Picture(string url) => new(new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = url } });

    private static JsonArray Ask(string text) => new(new JsonObject { ["role"] = "user", ["content"] = text });

    private async Task<(HttpStatusCode Status, JsonNode Body)> PostAsync(string path, JsonObject body)
    {
        using var response = await Http.PostAsync(path, new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    [Fact]
    public async Task Ratings_PictureResponse_TakesVisualTokensInThePrompt()
    {
        var request = Ask("draw a small red circle at the top left.");
        var (s1, red) = await PostAsync("/v1/judge/ratings", new JsonObject { ["model"] = MultimodalJudgeFixture.Judge, ["messages"] = request, ["response"] = Picture(RedCircle) });
        var (s2, blue) = await PostAsync("/v1/judge/ratings", new JsonObject { ["model"] = MultimodalJudgeFixture.Judge, ["messages"] = request.DeepClone(), ["response"] = Picture(BlueSquare) });
        var (s3, text) = await PostAsync("/v1/judge/ratings", new JsonObject { ["model"] = MultimodalJudgeFixture.Judge, ["messages"] = request.DeepClone(), ["response"] = "x" });
        Assert.Equal(HttpStatusCode.OK, s1);
        Assert.Equal(HttpStatusCode.OK, s2);
        Assert.Equal(HttpStatusCode.OK, s3);
        // A picture is 8 visual tokens in the judge's prompt, whatever it shows.
        int visual = new MultimodalConfig().VisualTokens;
        Assert.Equal(red["usage"]!["prompt_tokens"]!.GetValue<int>(), blue["usage"]!["prompt_tokens"]!.GetValue<int>());
        Assert.True(red["usage"]!["prompt_tokens"]!.GetValue<int>() >= text["usage"]!["prompt_tokens"]!.GetValue<int>() - 2 + visual - 2);
        // (That the pixels matter is shown with the trained demo judge: DemoJudgeTests.)
    }

    [Fact]
    public async Task Comparisons_SetMode_SwappedPictures_GiveBitwiseSameJudgement()
    {
        var request = Ask("draw a small red circle at the top left.");
        var (s1, first) = await PostAsync("/v1/judge/comparisons", new JsonObject
        {
            ["model"] = MultimodalJudgeFixture.Judge, ["messages"] = request, ["responses"] = new JsonArray(Picture(RedCircle), Picture(BlueSquare)), ["mode"] = "set",
        });
        var (s2, swapped) = await PostAsync("/v1/judge/comparisons", new JsonObject
        {
            ["model"] = MultimodalJudgeFixture.Judge, ["messages"] = request.DeepClone(), ["responses"] = new JsonArray(Picture(BlueSquare), Picture(RedCircle)), ["mode"] = "set",
        });
        Assert.Equal(HttpStatusCode.OK, s1);
        Assert.Equal(HttpStatusCode.OK, s2);
        Assert.Equal(first["raw"]!.GetValue<string>(), swapped["raw"]!.GetValue<string>());
        Assert.Equal(first["critique"]!.GetValue<string>(), swapped["critique"]!.GetValue<string>());
        int? Index(JsonNode body) => body["winner"] is { } w && w.GetValueKind() == System.Text.Json.JsonValueKind.Number ? w.GetValue<int>() : null;
        // The same picture wins after the swap (its index moves with it), or it is a tie / no verdict both times.
        Assert.Equal(Index(first) is { } i ? 1 - i : null, Index(swapped));
        Assert.Equal(first["winner"]?.ToJsonString() is "\"tie\"", swapped["winner"]?.ToJsonString() is "\"tie\"");
    }

    [Fact]
    public async Task Comparisons_PictureInTheQuery_CaptionsAreJudged()
    {
        var messages = new JsonArray(new JsonObject
        {
            ["role"] = "user",
            ["content"] = new JsonArray(
                new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = RedCircle } },
                new JsonObject { ["type"] = "text", ["text"] = "describe the image." }),
        });
        var (status, body) = await PostAsync("/v1/judge/comparisons", new JsonObject
        {
            ["model"] = MultimodalJudgeFixture.Judge, ["messages"] = messages,
            ["responses"] = new JsonArray("a small red circle at the top left.", "a large blue square at the bottom right."), ["mode"] = "ordered",
        });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("judge.comparison", body["object"]!.GetValue<string>());
    }

    public static TheoryData<string, string, string> BadImages() => new()
    {
        // PNG signature, then garbage: ImageGen's decoder refuses it (the gateway's data-URL check passes it).
        { "/v1/judge/ratings", $$$"""{"model":"{{{MultimodalJudgeFixture.Judge}}}","messages":[{"role":"user","content":"q"}],"response":[{"type":"image_url","image_url":{"url":"data:image/png;base64,{{{Convert.ToBase64String(TestImages.Png(300))}}}"}}]}""", "response[0].image_url.url" },
        { "/v1/judge/comparisons", $$$"""{"model":"{{{MultimodalJudgeFixture.Judge}}}","messages":[{"role":"user","content":"q"}],"responses":["a",[{"type":"image_url","image_url":{"url":"data:image/png;base64,{{{Convert.ToBase64String(TestImages.Png(300))}}}"}}]],"mode":"set"}""", "responses[1][0].image_url.url" },
        { "/v1/judge/ratings", $$$"""{"model":"{{{MultimodalJudgeFixture.Judge}}}","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,{{{Convert.ToBase64String(TestImages.Png(300))}}}"}}]}],"response":"r"}""", "messages[0].content[0].image_url.url" },
    };

    [Theory]
    [MemberData(nameof(BadImages))]
    public async Task Judge_CorruptImage_GetsInvalidImage(string path, string json, string param)
    {
        using var response = await Http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_image", body["error"]!["code"]?.GetValue<string>());
        Assert.Equal(param, body["error"]!["param"]?.GetValue<string>());
    }
}
