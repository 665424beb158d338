using Platform.Contracts.Chat;
using Platform.Inference.Engine;
using Platform.Inference.Engine.Scheduling;
using Platform.Inference.Loading;
using Xunit;

namespace Platform.Inference.Tests.Engine.Scheduling;

public class PromptBuilderTests
{
    private static VisualEmbedding Image(int tokens, int hidden, float first) =>
        new(tokens, hidden, Enumerable.Range(0, tokens * hidden).Select(i => first + i).ToArray());

    [Fact]
    public void Build_RawPrompt_TokenizedAsTheTokenizerDoes()
    {
        using var model = ModelLoader.Load(TestModels.SentencePiece);
        var built = new PromptBuilder("tiny", model, 256).Build(new GenerationRequest { Prompt = "the red ball" });
        Assert.True(model.Tokenizer.AddBos);
        Assert.Equal(model.Tokenizer.Encode("the red ball", addBos: true).ToArray(), built.Tokens);
        Assert.Equal(model.Tokenizer.BosTokenId, built.Tokens[0]);
        Assert.False(built.IsChat);
        Assert.Null(built.Rows);
        Assert.Null(built.Layout);
    }

    [Fact]
    public void Build_Messages_RenderedByTheChatTemplate()
    {
        using var model = ModelLoader.Load(TestModels.Llama);
        ChatMessage[] messages = [new("user", "Hello there")];
        var built = new PromptBuilder("tiny", model, 256).Build(new GenerationRequest { Messages = messages });
        Assert.Equal(model.Tokenizer.Encode(model.ChatTemplate.Render(messages, true, null)).ToArray(), built.Tokens);
        Assert.True(built.IsChat);
    }

    [Fact]
    public void Build_MessageWithImage_RowsReplaceThePlaceholder()
    {
        using var model = ModelLoader.Load(TestModels.Llama);
        int hidden = model.Config.HiddenSize;
        var image = Image(3, hidden, 1f);
        ChatMessage[] messages = [new("user", $"look {GenerationRequest.ImagePlaceholder} here", [image])];
        var built = new PromptBuilder("tiny", model, 256).Build(new GenerationRequest { Messages = messages });

        var parts = model.ChatTemplate.Render(messages, true, null).Split(GenerationRequest.ImagePlaceholder);
        int before = model.Tokenizer.Encode(parts[0]).Count;
        Assert.Equal(before + 3 + model.Tokenizer.Encode(parts[1]).Count, built.Tokens.Length);
        Assert.Equal([before, before + 1, before + 2], built.Rows!.Keys.Order());
        for (int t = 0; t < 3; t++) Assert.Equal(image.Data.AsSpan(t * hidden, hidden).ToArray(), built.Rows[before + t]);
    }

    [Fact]
    public void Build_MorePlaceholdersThanImages_ThrowsArgumentException()
    {
        using var model = ModelLoader.Load(TestModels.Llama);
        var p = GenerationRequest.ImagePlaceholder;
        var request = new GenerationRequest { Messages = [new ChatMessage("user", $"{p} and {p}", [Image(1, model.Config.HiddenSize, 0)])] };
        var e = Assert.Throws<ArgumentException>(() => new PromptBuilder("tiny", model, 256).Build(request));
        Assert.Contains("2 '" + p + "' placeholders but 1 images", e.Message);
    }

    [Fact]
    public void Build_ImageOfWrongWidth_ThrowsArgumentException()
    {
        using var model = ModelLoader.Load(TestModels.Llama);
        var request = new GenerationRequest { Messages = [new ChatMessage("user", GenerationRequest.ImagePlaceholder, [Image(2, 5, 0)])] };
        var e = Assert.Throws<ArgumentException>(() => new PromptBuilder("tiny", model, 256).Build(request));
        Assert.Equal($"image 0 has embedding width 5; the model's hidden size is {model.Config.HiddenSize}", e.Message);
    }

    [Fact]
    public void Build_PromptTokenOutsideVocabulary_ThrowsArgumentException()
    {
        using var model = ModelLoader.Load(TestModels.Llama);
        int vocab = model.Model.OutputVocabulary;
        var e = Assert.Throws<ArgumentException>(() => new PromptBuilder("tiny", model, 256).Build(new GenerationRequest { PromptTokens = [5, vocab] }));
        Assert.Equal($"prompt token {vocab} is outside the vocabulary (0..{vocab - 1})", e.Message);
    }

    [Fact]
    public void Build_PromptFillingTheContext_ThrowsContextLengthExceeded()
    {
        using var model = ModelLoader.Load(TestModels.Llama);
        var builder = new PromptBuilder("tiny", model, 4);
        Assert.Equal(3, builder.Build(new GenerationRequest { PromptTokens = [5, 6, 7] }).Tokens.Length);
        var e = Assert.Throws<ContextLengthExceededException>(() => builder.Build(new GenerationRequest { PromptTokens = [5, 6, 7, 8] }));
        Assert.Contains("accepts at most 3 prompt tokens (context 4)", e.Message);
    }

    [Fact]
    public void Build_EmptyPromptWithoutBos_ThrowsArgumentException()
    {
        using var model = ModelLoader.Load(TestModels.Llama);
        Assert.Null(model.Tokenizer.BosTokenId);
        var e = Assert.Throws<ArgumentException>(() => new PromptBuilder("tiny", model, 256).Build(new GenerationRequest { Prompt = "" }));
        Assert.Equal("prompt is empty", e.Message);
    }

    [Fact]
    public void Build_EmptyPromptWithBos_IsBosAlone()
    {
        using var model = ModelLoader.Load(TestModels.SentencePiece);
        Assert.Equal([model.Tokenizer.BosTokenId!.Value], new PromptBuilder("tiny", model, 256).Build(new GenerationRequest { PromptTokens = [] }).Tokens);
    }

    [Fact]
    public void Build_PromptPieces_LaysOutTheSet()
    {
        using var model = ModelLoader.Load(TestModels.Llama);
        var built = new PromptBuilder("tiny", model, 256).Build(new GenerationRequest
        {
            PromptPieces = [PromptPiece.Run([5, 6]), PromptPiece.Set([[7, 8, 9], [10]])],
        });
        Assert.NotNull(built.Layout);
        Assert.Equal(built.Layout.Tokens, built.Tokens);
        Assert.Equal(6, built.Tokens.Length);
        // Both members start right after the run.
        Assert.Equal([0L, 1, 2, 3, 4, 2], built.Layout.Positions);
        Assert.Null(built.Rows);
    }

    [Fact]
    public void SplitMarkedText_OneSet_RunsAroundItsMembers()
    {
        var parts = PromptBuilder.SplitMarkedText($"a {SetMarkers.Start}x{SetMarkers.Split}y{SetMarkers.End} b");
        Assert.Equal(3, parts.Count);
        Assert.Equal("a ", parts[0].Run);
        Assert.Equal(["x", "y"], parts[1].Members!);
        Assert.Equal(" b", parts[2].Run);
    }
}
