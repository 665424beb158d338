using System.Text.RegularExpressions;
using Platform.Multimodal.Models;
using Platform.Multimodal.Training;
using Platform.Multimodal.World;

namespace Platform.Multimodal.Tests.Training;

/// <summary>
/// "Held out" means absent from every model's inputs and targets: these tests walk the whole training stream of
/// every stage at the default options (the shipped model's), scenes and text, inputs and targets, and fail on the
/// first held-out colour/shape pair (design or test split), held-out out-of-world thing or held-out small talk or
/// out-of-world prompt they meet.
/// </summary>
public sealed partial class HeldOutLeakTests
{
    private static readonly TrainOptions Options = new();

    [GeneratedRegex(@"[a-z]+")]
    private static partial Regex Words();

    /// <summary>Held-out pairs named in the text: a colour word followed (size words skipped) by a shape word, singular or plural.</summary>
    public static IEnumerable<string> PairsIn(string text)
    {
        var words = Words().Matches(text.ToLowerInvariant()).Select(m => m.Value).ToList();
        string[] sizes = [.. Phrasings.SizeWords.SelectMany(w => w)];
        for (int i = 0; i < words.Count; i++)
        {
            int colour = Array.IndexOf(Palette.Names, words[i]);
            if (colour < 0) continue;
            int j = i + 1;
            while (j < words.Count && sizes.Contains(words[j])) j++;
            if (j >= words.Count) continue;
            foreach (var shape in Enum.GetValues<Shape>())
                if ((words[j] == WorldText.ShapeName(shape) || words[j] == WorldText.ShapeName(shape) + "s") && WorldSpec.IsHeldOut(colour, shape))
                    yield return $"{words[i]} {words[j]}";
        }
    }

    /// <summary>Held-out prompts and things named in the text: the held-out out-of-world things as words (singular or
    /// plural), and the held-out small talk prompts and out-of-world questions (without their final punctuation).</summary>
    public static IEnumerable<string> HeldOutWordsIn(string text)
    {
        var lower = text.ToLowerInvariant();
        var words = Words().Matches(lower).Select(m => m.Value).ToHashSet();
        foreach (var thing in WorldText.OutOfWorldThings[^WorldText.HeldOutTail..])
            if (words.Contains(thing) || words.Contains(thing + "s")) yield return thing;
        var prompts = WorldText.SmallTalk.Select(s => s.Prompts[^1]).Concat(WorldText.OutOfWorldQuestions[^WorldText.HeldOutTail..]);
        foreach (var prompt in prompts)
            if (lower.Contains(prompt.ToLowerInvariant().TrimEnd('?', '!', '.'), StringComparison.Ordinal)) yield return prompt;
    }

    private static int AssertNoHeldOut(string stage, IEnumerable<Scene> scenes)
    {
        int count = 0;
        foreach (var scene in scenes)
        {
            count++;
            Assert.False(scene.IsHeldOut, $"{stage}: held-out pair in training scene '{scene.Caption()}'");
        }
        return count;
    }

    private static void AssertNoHeldOut(string stage, string text)
    {
        Assert.True(!PairsIn(text).Any(), $"{stage}: held-out pair '{PairsIn(text).FirstOrDefault()}' in training text: {text}");
        Assert.True(!HeldOutWordsIn(text).Any(), $"{stage}: held-out prompt or thing '{HeldOutWordsIn(text).FirstOrDefault()}' in training text: {text}");
    }

    private static IEnumerable<Scene> ScenesOf(WorldDialogue d) => d.Turns.SelectMany(t => t.InputImages.Concat(t.Outputs));

    [Fact]
    public void PairsIn_HeldOutPairInText_FindsIt()
    {
        Assert.Equal(["red triangle"], PairsIn("Draw a tiny Red triangle on the left!"));
        Assert.Equal(["green circles"], PairsIn("both are green circles."));
        Assert.Empty(PairsIn("here is a small blue triangle at the top left. I draw circles, squares and triangles; colours: red, green."));
    }

    [Fact]
    public void HeldOutWordsIn_HeldOutThingOrPrompt_FindsIt()
    {
        Assert.Equal(["penguin"], HeldOutWordsIn("Could you paint a purple penguin for me?"));
        Assert.Equal(["dragon"], HeldOutWordsIn("draw two dragons"));
        Assert.Equal(["thanks a lot"], HeldOutWordsIn("Thanks a lot!"));
        Assert.Empty(HeldOutWordsIn("thanks! draw a red dog and a zorp. hello!"));
    }

    [Fact]
    public void DecoderAndVisualStreams_DefaultOptions_HaveNoHeldOutScene()
    {
        Assert.Equal(Options.DecoderSteps * Options.ImageBatch, AssertNoHeldOut("decoder", DecoderStage.Batches(Options).SelectMany(b => b)));
        Assert.Equal(Options.VisualSteps * Options.ImageBatch, AssertNoHeldOut("visual encoder", VisualEncoderStage.Batches(Options).SelectMany(b => b)));
    }

    [Fact]
    public void TokenizerCorpus_DefaultOptions_HasNoHeldOutPairPromptOrThing()
    {
        foreach (var piece in TokenizerStage.Corpus(Options)) AssertNoHeldOut("tokenizer corpus", piece);
    }

    [Fact]
    public void LanguageModelAndHeadStreams_DefaultOptions_HaveNoHeldOutPairPromptOrThingInInputsOrTargets()
    {
        var folder = Directory.CreateTempSubdirectory("leak-scan-").FullName;
        try
        {
            var chat = new TokenizerStage(Options, _ => { }).Train(folder, new MultimodalConfig());
            int batches = 0, scenes = 0;
            foreach (var batch in LanguageModelStage.Batches(Options, chat))
            {
                batches++;
                foreach (var d in batch)
                {
                    scenes += AssertNoHeldOut("lm images", d.Images.Concat(d.ImgTargets.Select(t => t.Scene)));
                    // Targets (and unchanged inputs) are the ids; the noised colours are in the inputs.
                    AssertNoHeldOut("lm targets", chat.Tokenizer.Decode(d.Ids.Where(id => id >= 0).ToList()));
                    AssertNoHeldOut("lm inputs", chat.Tokenizer.Decode((d.Inputs ?? d.Ids).Where(id => id >= 0).ToList()));
                }
            }
            Assert.Equal(Options.LmSteps, batches);
            Assert.True(scenes > Options.LmSteps * Options.LmBatch / 2, $"only {scenes} scenes in the LM stream");
            foreach (var d in GillHeadsStage.Dialogues(Options))
            {
                AssertNoHeldOut("gill heads scenes", ScenesOf(d));
                foreach (var turn in d.Turns) AssertNoHeldOut("gill heads text", turn.Text);
            }
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    public void MoeFamilyStreams_DefaultOptions_HaveNoHeldOutSceneOrPair()
    {
        var moe = new Platform.Multimodal.MoeAdapter.Training.MoeTrainOptions();
        Assert.Equal(moe.VqSteps * moe.VqBatch, AssertNoHeldOut("vq tokenizer", Platform.Multimodal.MoeAdapter.Training.VqTokenizerStage.Batches(moe).SelectMany(b => b)));
        int dialogues = 0;
        foreach (var d in Platform.Multimodal.MoeAdapter.Training.MoeBaseStage.Batches(moe).SelectMany(b => b))
        {
            dialogues++;
            Assert.Empty(ScenesOf(d));
            foreach (var turn in d.Turns) AssertNoHeldOut("moe base text", turn.Text);
        }
        Assert.Equal(moe.BaseSteps * moe.BaseBatch, dialogues);
        int requests = 0;
        foreach (var d in Platform.Multimodal.MoeAdapter.Training.MoeAdapterStage.Batches(moe).SelectMany(b => b))
        {
            requests++;
            // The picture the codes come from (the image run's target) and every word of input and target.
            Assert.Equal(1, AssertNoHeldOut("moe adapter pictures", ScenesOf(d)));
            foreach (var turn in d.Turns) AssertNoHeldOut("moe adapter text", turn.Text);
        }
        Assert.Equal(moe.AdapterSteps * moe.AdapterBatch, requests);
        Assert.Equal(moe.AdapterValidation, AssertNoHeldOut("moe adapter validation", Platform.Multimodal.MoeAdapter.Training.MoeAdapterStage.Requests(
            Platform.Multimodal.MoeAdapter.Training.MoeAdapterStage.ValidationSeed).Take(moe.AdapterValidation).SelectMany(ScenesOf)));
    }

    [Fact]
    public void LanguageModelExtraStream_SixAStep_HasNoHeldOutPairPromptOrThing()
    {
        // The extra conversations' own stream (LanguageModelStage.Extra), at six a step over the LM stage's steps.
        var generator = new SceneGenerator(Options.Seed + 8);
        int unknown = 0;
        for (int i = 0; i < Options.LmSteps * 6; i++)
        {
            var d = LanguageModelStage.Extra(generator, i);
            AssertNoHeldOut("lm extra scenes", ScenesOf(d));
            foreach (var turn in d.Turns) AssertNoHeldOut("lm extra text", turn.Text);
            if (d.Kind == "out-of-world") unknown++;
        }
        Assert.Equal(Options.LmSteps * 2, unknown);
    }

    [Fact]
    public void ColourNoise_ProbabilityOne_ChangesColoursButNeverFormsAHeldOutPair()
    {
        var folder = Directory.CreateTempSubdirectory("leak-noise-").FullName;
        try
        {
            var chat = new TokenizerStage(Options with { Seed = 5 }, _ => { }).Train(folder, new MultimodalConfig());
            var generator = new SceneGenerator(9);
            var random = new Random(1);
            int changed = 0;
            for (int i = 0; i < 300; i++)
            {
                var d = LanguageModelStage.WithColourNoise(chat.Encode(generator.Request().Turns), chat, random, 1.0);
                changed += d.Inputs!.Zip(d.Ids).Count(p => p.First != p.Second);
                AssertNoHeldOut("noised inputs", chat.Tokenizer.Decode(d.Inputs!.Where(id => id >= 0).ToList()));
            }
            Assert.True(changed > 50, $"noise changed only {changed} colour words");
        }
        finally { Directory.Delete(folder, recursive: true); }
    }
}
