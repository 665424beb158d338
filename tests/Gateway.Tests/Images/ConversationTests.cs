using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Platform.Multimodal.World;

namespace Gateway.Tests.Images;

/// <summary>
/// What a new user tries, through the all-in-one gateway on the shipped demo model, as raw OpenAI JSON (greedy, so
/// the answers are reproducible): unseen wording, the picture after the question, two pictures in a turn, two
/// pictures in an answer, a follow-up from a plain client's history (the markdown link it received) and small talk.
/// </summary>
public class ConversationTests(DemoGatewayFixture fixture) : IClassFixture<DemoGatewayFixture>
{
    private async Task<JsonNode> ChatAsync(JsonArray messages)
    {
        var response = await fixture.Http.PostAsJsonAsync("/v1/chat/completions", new JsonObject
        {
            ["model"] = DemoGatewayFixture.Model, ["messages"] = messages, ["temperature"] = 0,
        });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        return JsonNode.Parse(body)!;
    }

    private static JsonObject User(string text) => new() { ["role"] = "user", ["content"] = text };

    private static JsonObject ImagePart(params SceneObject[] objects) =>
        new() { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = WorldImages.DataUrl(WorldImages.Png(objects)) } };

    private static JsonObject TextPart(string text) => new() { ["type"] = "text", ["text"] = text };

    private static string Content(JsonNode completion) => (string)completion["choices"]![0]!["message"]!["content"]!;

    private async Task<List<IReadOnlyList<SceneObject>>> PicturesAsync(string content)
    {
        var pictures = new List<IReadOnlyList<SceneObject>>();
        foreach (var url in WorldImages.MarkdownImages(content)) pictures.Add(WorldImages.Read(await fixture.Http.GetByteArrayAsync(url)));
        return pictures;
    }

    [Fact]
    public async Task Draw_HeldOutWording_DrawsWhatWasAsked()
    {
        // "could you sketch" and "in the lower right corner" are held-out wordings: no training request used them.
        Assert.True(Phrasings.Has(["frame:could you sketch", "position:in the lower right corner"], Phrasings.DesignHeldOut));
        var content = Content(await ChatAsync([User("Could you sketch a huge purple triangle in the lower right corner?")]));
        var picture = Assert.Single(await PicturesAsync(content));
        Assert.Equal([WorldImages.Object("purple", Shape.Triangle, ObjectSize.Large, 2, 2)], picture);
    }

    [Theory]
    [InlineData("draw a small purple square at the top left.", "purple", Shape.Square, ObjectSize.Small, 0, 0)]
    [InlineData("draw a large white triangle at the middle center.", "white", Shape.Triangle, ObjectSize.Large, 1, 1)]
    public async Task Draw_HeldOutPair_DrawsWhatWasAsked(string request, string colour, Shape shape, ObjectSize size, int row, int column)
    {
        // Colour-shape pairs of the untouched test split: no training stream ever named or showed them together.
        Assert.True(WorldSpec.IsTestPair(Palette.Names.ToList().IndexOf(colour), shape));
        var content = Content(await ChatAsync([User(request)]));
        var picture = Assert.Single(await PicturesAsync(content));
        Assert.Equal([WorldImages.Object(colour, shape, size, row, column)], picture);
    }

    [Fact]
    public async Task Ask_ImageAfterTheQuestion_AnswersAboutTheImage()
    {
        var content = Content(await ChatAsync([new JsonObject
        {
            ["role"] = "user",
            ["content"] = new JsonArray(TextPart("What colour is it?"), ImagePart(WorldImages.Object("green", Shape.Triangle, ObjectSize.Large, 0, 2))),
        }]));
        Assert.Equal("green.", content.Trim());
    }

    [Fact]
    public async Task Ask_TwoImagesInOneTurn_ComparesThem()
    {
        var content = Content(await ChatAsync([new JsonObject
        {
            ["role"] = "user",
            ["content"] = new JsonArray(ImagePart(WorldImages.Object("blue", Shape.Square, ObjectSize.Small, 0, 0)),
                ImagePart(WorldImages.Object("red", Shape.Circle, ObjectSize.Large, 2, 1)), TextPart("which of these two is red?")),
        }]));
        Assert.Equal("the second.", content.Trim());
    }

    [Fact]
    public async Task Draw_TwoPicturesInOneAnswer_TextImageTextImageInOrder()
    {
        var completion = await ChatAsync([User("draw a small red circle at the top left and then a large blue triangle at the bottom right")]);
        var parts = completion["choices"]![0]!["message"]!["parts"]!.AsArray();
        Assert.Equal(["text", "image_url", "text", "image_url"], parts.Select(p => (string)p!["type"]!).ToArray());
        var content = Content(completion);
        var pictures = await PicturesAsync(content);
        Assert.Equal([WorldImages.Object("red", Shape.Circle, ObjectSize.Small, 0, 0)], pictures[0]);
        // Each picture is what the sentence before it says (how often that sentence restates the request right is
        // the evaluation's "multi image answers" figure).
        for (int k = 0; k < 2; k++)
        {
            var said = WorldText.ParseCaption(((string)parts[2 * k]!["text"]!).Replace("and here is", "").Replace("here is", "").Trim());
            var read = Assert.Single(pictures[k]);
            Assert.Equal(said.Single(), (read.SizeName, read.ColourName, read.ShapeName, read.PositionName));
        }
        Assert.Equal(("blue", Shape.Triangle, ObjectSize.Large), (pictures[1][0].ColourName, pictures[1][0].Shape, pictures[1][0].Size));
    }

    [Fact]
    public async Task FollowUp_PlainClientHistoryWithMarkdownLink_EditsTheEarlierPicture()
    {
        // A plain OpenAI client keeps only the content string: text plus "![image](http://.../v1/images/img-....png)".
        var first = Content(await ChatAsync([User("draw a small blue triangle on the left")]));
        Assert.Single(WorldImages.MarkdownImages(first));
        var history = new JsonArray(User("draw a small blue triangle on the left"), new JsonObject { ["role"] = "assistant", ["content"] = first });

        var edit = (JsonArray)history.DeepClone();
        edit.Add(User("now make it green"));
        var picture = Assert.Single(await PicturesAsync(Content(await ChatAsync(edit))));
        Assert.Equal([WorldImages.Object("green", Shape.Triangle, ObjectSize.Small, 1, 0)], picture);

        var question = (JsonArray)history.DeepClone();
        question.Add(User("what colour was it?"));
        Assert.Equal("blue.", Content(await ChatAsync(question)).Trim());
    }

    [Fact]
    public async Task History_LinkToStoredImage_ReachesTheModelAsVisualTokens()
    {
        var first = Content(await ChatAsync([User("draw a large white square at the top right")]));
        var link = Assert.Single(WorldImages.MarkdownImages(first));
        async Task<int> PromptTokens(string assistant) =>
            (int)(await ChatAsync([User("draw a large white square at the top right"), new JsonObject { ["role"] = "assistant", ["content"] = assistant }, User("thanks")]))["usage"]!["prompt_tokens"]!;
        // The same history with the link to an id the gateway never stored stays text; the stored one becomes the
        // image's visual tokens (8) in place of the link's text tokens.
        var unknown = first.Replace(link.Segments[^1], "img-00000000000000000000000000000000.png", StringComparison.Ordinal);
        int withImage = await PromptTokens(first), withUnknownLink = await PromptTokens(unknown);
        int withoutLink = await PromptTokens(first[..first.IndexOf("![", StringComparison.Ordinal)].TrimEnd());
        // The stored picture becomes its 8 visual tokens (plus at most the space before it); an unknown id stays
        // the link's text, which is far longer.
        Assert.InRange(withImage - withoutLink, 8, 9);
        Assert.True(withUnknownLink - withoutLink > 20, $"the unknown link is only {withUnknownLink - withoutLink} tokens");
    }

    [Theory]
    [InlineData("hi there")]
    [InlineData("Thanks!")]
    [InlineData("who are you?")]
    [InlineData("what can you do?")]
    [InlineData("draw a dog")]
    public async Task SmallTalkAndOutOfWorld_ShortTrueAnswerWithoutImage(string prompt)
    {
        var content = Content(await ChatAsync([User(prompt)]));
        Assert.Empty(WorldImages.MarkdownImages(content));
        Assert.Contains(content.Trim(), new[]
        {
            WorldText.GreetingAnswer, WorldText.ThanksAnswer, WorldText.IdentityAnswer, WorldText.AbilityAnswer, WorldText.OutOfWorldDrawing,
        });
    }
}
