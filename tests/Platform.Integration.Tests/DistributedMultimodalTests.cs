using System.ClientModel;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using OpenAI;
using OpenAI.Chat;
using Platform.Multimodal.Imaging;
using Platform.Multimodal.World;

namespace Platform.Integration.Tests;

/// <summary>
/// The multimodal path distributed over RabbitMQ: gateway (HostWorkers=false), a TextLlm worker and an ImageGen
/// worker, each its own process, serving the trained demo model under a name unique to the run.
/// </summary>
public sealed class DistributedMultimodalFixture : DistributedFixture
{
    public string Model { get; } = "demo-it-" + Guid.NewGuid().ToString("N")[..8];

    public static string DemoFolder([System.Runtime.CompilerServices.CallerFilePath] string sourceFile = "")
    {
        for (var dir = new DirectoryInfo(Path.GetDirectoryName(sourceFile)!); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Platform.sln"))) return Path.Combine(dir.FullName, "models", "demo");
        throw new DirectoryNotFoundException("Platform.sln not found above the test sources.");
    }

    protected override IEnumerable<string> ModelsToWaitFor => [Model];

    protected override Task<ServiceProcess> StartProcessesAsync()
    {
        var bus = new Dictionary<string, string>(BusSettings())
        {
            [$"Models__{Model}__Path"] = DemoFolder(),
            [$"Models__{Model}__Multimodal"] = "true",
        };
        var gateway = Track(ServiceProcess.Start("gateway", "GatewayDll", new Dictionary<string, string>(bus) { ["Gateway__HostWorkers"] = "false" }));
        Track(ServiceProcess.Start("textllm", "TextLlmDll", new Dictionary<string, string>(bus)
        {
            ["TextLlm__Models__0"] = Model,
            ["TextLlm__InstanceId"] = "textllm-mm",
            ["TextLlm__AnnounceIntervalSeconds"] = "2",
        }));
        Track(ServiceProcess.Start("imagegen", "ImageGenDll", new Dictionary<string, string>(bus) { ["ImageGen__Models__0"] = Model }));
        return Task.FromResult(gateway);
    }
}

public class DistributedMultimodalTests(DistributedMultimodalFixture platform) : IClassFixture<DistributedMultimodalFixture>
{
    private ChatClient Client => new(platform.Model, new ApiKeyCredential("unused"),
        new OpenAIClientOptions { Endpoint = new Uri(platform.Gateway.Address, "/v1"), NetworkTimeout = TimeSpan.FromSeconds(120) });

    private void Require()
    {
        RabbitMqBroker.Require();
        Assert.True(platform.Started, "The distributed multimodal platform did not start:\n" + platform.Logs());
    }

    [SkippableFact]
    public async Task CompleteChat_DrawInstructionOverRabbitMq_ImageGenProcessDrawsIt()
    {
        Require();
        ChatCompletion completion = await Client.CompleteChatAsync([new UserChatMessage("draw a large red circle at the middle center.")],
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 64 });

        var url = Regex.Match(completion.Content[0].Text, @"!\[image\]\((?<url>[^)\s]+)\)").Groups["url"].Value;
        Assert.NotEmpty(url);
        var (_, _, rgb) = ImageCodec.DecodeRgb(await platform.Gateway.Http.GetByteArrayAsync(url));
        var found = Assert.Single(SceneChecker.Check(rgb));
        Assert.Equal(("red", Shape.Circle, ObjectSize.Large, 1, 1), (found.ColourName, found.Shape, found.Size, found.Row, found.Column));
    }

    [SkippableFact]
    public async Task CompleteChat_ImageInputOverRabbitMq_CaptionNamesColourAndShape()
    {
        Require();
        var scene = new Scene([new SceneObject(Array.IndexOf(Palette.Names, "blue"), Shape.Circle, ObjectSize.Large, 1, 1)]);
        var png = ImageCodec.EncodePng(SceneRenderer.Render(scene), WorldSpec.ImageSize, WorldSpec.ImageSize);
        ChatCompletion completion = await Client.CompleteChatAsync(
            [new UserChatMessage(ChatMessageContentPart.CreateImagePart(BinaryData.FromBytes(png), "image/png"),
                ChatMessageContentPart.CreateTextPart("describe the image."))],
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 64 });
        Assert.Contains("blue", completion.Content[0].Text);
        Assert.Contains("circle", completion.Content[0].Text);
    }
}
