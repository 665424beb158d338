using Platform.Inference.Models.Moe;
using Platform.Inference.Tokenization;
using Platform.Multimodal.MoeAdapter.Training;
using Platform.Multimodal.Training;
using Platform.Multimodal.World;

namespace Platform.Multimodal.Tests.MoeAdapter.Training;

public sealed class ImageTokenSequencesTests
{
    [Fact]
    public void Batch_TwoRequests_LabelsOnlyTheImageRunAndTheStop()
    {
        var tokenizer = TokenizerLoader.Load(DemoMoeFolder.Find());
        var chat = new DemoChat(tokenizer, visualTokens: 1);
        var vocabulary = new ImageVocabulary(864, 16, 4);
        var sequences = new ImageTokenSequences(chat, vocabulary);
        var generator = new SceneGenerator(3);
        var requests = new[] { generator.Request(), generator.Request() };
        long[] codes = [1, 2, 3, 4, 15, 0, 0, 7];
        var (ids, labels) = sequences.Batch(requests, codes);
        var (first, start) = sequences.Sequence(requests[0], codes.AsSpan(0, 4));
        Assert.Equal(sequences.Prompt(requests[0]).Length + tokenizer.Encode(requests[0].Turns[1].Text.Replace(" " + WorldText.ImageTokenRun, "")).Count, start);
        Assert.Equal([vocabulary.BeginOfImage, 867, 868, 869, 870, vocabulary.EndOfImage, chat.ImEnd], first[start..]);
        var row = ids[0].data<long>().ToArray();
        var label = labels[0].data<long>().ToArray();
        Assert.Equal(first.Select(x => (long)x), row.Take(first.Length));
        for (int j = 0; j < row.Length; j++)
            Assert.Equal(j >= start && j < first.Length ? row[j] : -100, label[j]);
        Assert.Equal(7, label.Count(l => l != -100));
        Assert.Equal(7, labels[1].data<long>().ToArray().Count(l => l != -100));
    }
}
