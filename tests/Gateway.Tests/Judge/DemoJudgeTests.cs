using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using ImageGen;
using Judge;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Platform.Multimodal.Imaging;
using Platform.Multimodal.World;
using Platform.ServiceDefaults.Bus;
using TextLlm;
using Gateway.Tests.Images;

namespace Gateway.Tests.Judge;

/// <summary>
/// The all-in-one gateway (TextLlm, ImageGen, Judge in process, in-memory bus) with the shipped demo family and the
/// shipped demo judge (models/demo-judge: an input-only multimodal folder, so ImageGen encodes its images).
/// </summary>
public sealed class DemoJudgeFixture : IAsyncLifetime
{
    public const string Judge = "demo-judge";
    public WebApplication App { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var demo = DemoGatewayFixture.ModelFolder();
        var judge = Path.Combine(Path.GetDirectoryName(demo)!, "demo-judge");
        var root = Path.Combine(Path.GetTempPath(), "gateway-demo-judge-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing", ContentRootPath = root });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Models:demo:Path"] = demo,
            ["Models:demo:Multimodal"] = "true",
            ["Models:demo:Engine:MaxConcurrentSequences"] = "4",
            [$"Models:{Judge}:Path"] = judge,
            [$"Models:{Judge}:Kind"] = "judge",
            [$"Models:{Judge}:Multimodal"] = "true",
            [$"Models:{Judge}:Engine:MaxConcurrentSequences"] = "4",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.AddGateway();
        builder.AddTextLlmWorker();
        builder.AddImageGenWorker();
        builder.AddJudgeWorker(requireModels: false);
        builder.AddPlatformBus();
        App = builder.Build();
        App.MapGateway();
        await App.StartAsync();
        var address = new Uri(App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        Http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(300) };
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        while (!(await Http.GetStringAsync("/v1/models", deadline.Token)).Contains(Judge, StringComparison.Ordinal))
            await Task.Delay(50, deadline.Token);
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}

public class DemoJudgeTests(DemoJudgeFixture fixture) : IClassFixture<DemoJudgeFixture>
{
    private HttpClient Http => fixture.Http;

    private async Task<(HttpStatusCode Status, JsonNode Body)> PostAsync(string path, JsonObject body)
    {
        using var response = await Http.PostAsync(path, new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    private static JsonArray Picture(SceneObject o) => new(new JsonObject
    {
        ["type"] = "image_url",
        ["image_url"] = new JsonObject
        {
            ["url"] = "data:image/png;base64," + Convert.ToBase64String(ImageCodec.EncodePng(SceneRenderer.Render(new Scene([o])), SceneRenderer.Size, SceneRenderer.Size)),
        },
    });

    [Fact]
    public async Task Ratings_DemoJudge_SeesWhetherThePictureMatchesTheRequest()
    {
        var request = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "draw a small green square at the top left." });
        var (s1, right) = await PostAsync("/v1/judge/ratings", new JsonObject
        {
            ["model"] = DemoJudgeFixture.Judge, ["messages"] = request, ["response"] = Picture(new SceneObject(1, Shape.Square, ObjectSize.Small, 0, 0)),
        });
        // Colour, shape and position wrong: only the size is right.
        var (s2, wrong) = await PostAsync("/v1/judge/ratings", new JsonObject
        {
            ["model"] = DemoJudgeFixture.Judge, ["messages"] = request.DeepClone(), ["response"] = Picture(new SceneObject(2, Shape.Circle, ObjectSize.Small, 2, 2)),
        });
        Assert.Equal(HttpStatusCode.OK, s1);
        Assert.Equal(HttpStatusCode.OK, s2);
        Assert.True(right["rating"]!.GetValue<int>() > wrong["rating"]!.GetValue<int>(),
            $"matching picture rated {right["rating"]}: {right["critique"]}; wrong picture rated {wrong["rating"]}: {wrong["critique"]}");
    }

    [Fact]
    public async Task ImageGenerations_BestOf_ReturnsTheTopRatedCandidate()
    {
        var (status, body) = await PostAsync("/v1/images/generations", new JsonObject
        {
            ["model"] = "demo", ["prompt"] = "a large yellow square at the bottom right", ["best_of"] = 3, ["judge"] = DemoJudgeFixture.Judge,
        });
        Assert.Equal(HttpStatusCode.OK, status);
        var candidates = body["best_of_candidates"]!.AsArray();
        Assert.Equal(3, candidates.Count);
        var ratings = candidates.Select(c => c!["rating"]?.GetValue<int>()).ToList();
        int best = global::Gateway.Judge.BestOf.Pick(ratings);
        Assert.Equal(candidates[best]!["url"]!.GetValue<string>(), body["data"]![0]!["url"]!.GetValue<string>());
        Assert.All(candidates, c => Assert.False(string.IsNullOrEmpty(c!["critique"]!.GetValue<string>())));
        Assert.Equal(Enumerable.Range(0, 3), candidates.Select(c => c!["index"]!.GetValue<int>()));
        Assert.Single(body["data"]!.AsArray());
    }

    [Fact]
    public async Task ChatCompletions_BestOfWithAPicture_TheJudgeRatesEveryCaption()
    {
        var picture = Picture(new SceneObject(3, Shape.Square, ObjectSize.Large, 1, 1));
        picture.Add(new JsonObject { ["type"] = "text", ["text"] = "describe the image." });
        var (status, body) = await PostAsync("/v1/chat/completions", new JsonObject
        {
            ["model"] = "demo", ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = picture }),
            ["best_of"] = 2, ["judge"] = DemoJudgeFixture.Judge, ["temperature"] = 1, ["seed"] = 3,
        });
        Assert.Equal(HttpStatusCode.OK, status);
        var candidates = body["best_of_candidates"]!.AsArray();
        Assert.Equal(2, candidates.Count);
        Assert.All(candidates, c => Assert.NotNull(c!["rating"]));
    }

    public static TheoryData<string, string, string> Errors() => new()
    {
        { """{"prompt":"a red circle","best_of":2}""", "missing_required_parameter", "judge" },
        { """{"prompt":"a red circle","judge":"demo-judge"}""", "missing_required_parameter", "best_of" },
        { """{"prompt":"a red circle","best_of":0,"judge":"demo-judge"}""", "invalid_value", "best_of" },
        { """{"prompt":"a red circle","best_of":99,"judge":"demo-judge"}""", "invalid_value", "best_of" },
        { """{"prompt":"a red circle","best_of":2,"judge":"demo-judge","n":2}""", "invalid_value", "n" },
        { """{"prompt":"a red circle","best_of":2,"judge":"demo"}""", "model_not_found", "judge" },
        { """{"prompt":"a red circle","best_of":2,"judge":"nope"}""", "model_not_found", "judge" },
        { """{"prompt":"a red circle","temperature":2.5}""", "invalid_value", "temperature" },
    };

    [Theory]
    [MemberData(nameof(Errors))]
    public async Task ImageGenerations_BadBestOf_GetsOpenAiError(string json, string code, string param)
    {
        using var response = await Http.PostAsync("/v1/images/generations", new StringContent(json, Encoding.UTF8, "application/json"));
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(code == "model_not_found" ? HttpStatusCode.NotFound : HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(code, body["error"]!["code"]?.GetValue<string>());
        Assert.Equal(param, body["error"]!["param"]?.GetValue<string>());
    }
}
