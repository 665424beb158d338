using Platform.Multimodal.Training;
using Platform.Multimodal.World;

namespace Platform.Multimodal.Tests.Training;

public sealed class CopyAugmentTests
{
    [Fact]
    public void CopyAugment_ProbabilityOne_ChangesRequestAndRestatementAlikeAndDropsTheTarget()
    {
        var generator = new SceneGenerator(11);
        var random = new Random(3);
        for (int i = 0; i < 50; i++)
        {
            var original = generator.Instruction();
            var augmented = LanguageModelStage.CopyAugment(original, random, 1.0);
            var scene = original.Turns[1].OutputScene!;
            Assert.Null(augmented.Turns[1].OutputScene);
            Assert.NotEqual(original.Turns[0].Text, augmented.Turns[0].Text);
            // The restatement still repeats the (changed) request word for word.
            var answer = augmented.Turns[1].Text;
            Assert.StartsWith("here is ", answer);
            Assert.EndsWith($". {WorldText.ImageTokenRun}", answer);
            var request = answer["here is ".Length..^$". {WorldText.ImageTokenRun}".Length];
            Assert.EndsWith($" {request}.", augmented.Turns[0].Text);
            // Exactly one object lost its colour or its shape word, so no new colour/shape pair can appear.
            var parsed = WorldText.ParseCaption(request);
            Assert.Equal(scene.Objects.Count, parsed.Count);
            Assert.Equal(1, parsed.Count(p => p.Colour is null || p.Shape is null));
        }
    }

    [Fact]
    public void CopyAugment_ProbabilityZero_ReturnsTheSameTurns()
    {
        var dialogue = new SceneGenerator(12).Instruction();
        Assert.Equal(dialogue.Turns, LanguageModelStage.CopyAugment(dialogue, new Random(1), 0.0).Turns);
    }
}
