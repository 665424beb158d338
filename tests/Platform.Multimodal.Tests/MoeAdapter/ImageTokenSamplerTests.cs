using Platform.Inference.Loading;
using Platform.Inference.Models.Moe;
using Platform.Multimodal.MoeAdapter;
using Platform.Multimodal.MoeAdapter.Training;
using Platform.Multimodal.Tests.MoeAdapter.Training;
using static TorchSharp.torch;

namespace Platform.Multimodal.Tests.MoeAdapter;

[Collection(TorchRandomCollection.Name)]
public sealed class ImageTokenSamplerTests
{
    private static readonly ImageVocabulary Vocabulary = new(10, 4, 3);

    [Fact]
    public void Constrain_OutsidePicture_MasksCodesAndEndOnly()
    {
        var logits = new float[Vocabulary.Size];
        new ImageTokenSampler(null!, Vocabulary, new HashSet<int>()).Constrain(logits, null);
        Assert.All(Enumerable.Range(0, 10).Append(Vocabulary.BeginOfImage), t => Assert.Equal(0, logits[t]));
        Assert.All(Enumerable.Range(Vocabulary.EndOfImage, Vocabulary.Size - Vocabulary.EndOfImage), t => Assert.Equal(float.NegativeInfinity, logits[t]));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void Constrain_InsideUnfinishedPicture_OnlyCodes(int written)
    {
        var logits = new float[Vocabulary.Size];
        new ImageTokenSampler(null!, Vocabulary, new HashSet<int>()).Constrain(logits, written);
        for (int t = 0; t < Vocabulary.Size; t++) Assert.Equal(Vocabulary.IsCode(t) ? 0 : float.NegativeInfinity, logits[t]);
    }

    [Fact]
    public void Constrain_FullPicture_ForcesEnd()
    {
        var logits = new float[Vocabulary.Size];
        new ImageTokenSampler(null!, Vocabulary, new HashSet<int>()).Constrain(logits, 3);
        for (int t = 0; t < Vocabulary.Size; t++) Assert.Equal(t == Vocabulary.EndOfImage ? 0 : float.NegativeInfinity, logits[t]);
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.0)]
    public void Generate_PromptEndingInBegin_WritesOnePictureOfExactlyTheGridThenLeavesIt(double temperature)
    {
        var folder = DemoMoeFolder.Find();
        using var vq = MoeFamilyTrainer.LoadVq(folder);
        using var loaded = ModelLoader.Load(folder);
        var vocabulary = new ImageVocabulary(loaded.Config.VocabSize, vq.Config.CodebookSize, vq.Config.CodesPerImage);
        manual_seed(4);
        using var adapter = new ImageTokenAdapter(loaded.Model, vocabulary.NewTokens, rank: 2, alpha: 4);
        adapter.Attach(true);
        var prompt = loaded.Tokenizer.Encode("<|im_start|>user\ndraw a small red circle<|im_end|>\n<|im_start|>assistant\nhere is a small red circle at the top left.").Append(vocabulary.BeginOfImage).ToArray();
        var answer = new ImageTokenSampler(adapter, vocabulary, new HashSet<int>()).Generate(prompt, temperature, new Random(1), maxNewTokens: vocabulary.CodesPerImage + 3);
        Assert.Single(answer.Pictures);
        Assert.Equal(vocabulary.CodesPerImage, answer.Pictures[0].Length);
        Assert.All(answer.Pictures[0], c => Assert.InRange(c, 0, vocabulary.CodebookSize - 1));
        Assert.Equal(vocabulary.EndOfImage, answer.Tokens[vocabulary.CodesPerImage]);
        // After the picture: no code and no end-of-image outside a picture.
        Assert.All(answer.Tokens.Skip(vocabulary.CodesPerImage + 1), t => Assert.True(!vocabulary.IsCode(t) && t != vocabulary.EndOfImage));
    }
}
