using System.Text.Json;
using System.Text.Json.Nodes;
using Platform.Inference.Models;
using Platform.Inference.Tokenization;
using Platform.Multimodal.Models;
using Platform.Multimodal.World;

namespace Platform.Multimodal.Training;

/// <summary>Stage 3: the byte-level BPE tokenizer, trained on the world's (seen) conversations, and its config with
/// the demo chat template.</summary>
public sealed class TokenizerStage(TrainOptions options, Action<string> log)
{
    public const int Conversations = 4000;

    /// <summary>The text the BPE is trained on (its whole training stream): the text pieces of seen conversations.</summary>
    public static IEnumerable<string> Corpus(TrainOptions options)
    {
        var generator = new SceneGenerator(options.Seed + 3);
        for (int i = 0; i < Conversations; i++)
            foreach (var turn in generator.NextConversation().Turns)
                foreach (var piece in turn.Text.Split(WorldText.ImagePlaceholder))
                    yield return piece;
        yield return "user assistant system\n";
    }

    public DemoChat Train(string folder, MultimodalConfig config)
    {
        // The held-out pairs never occur in the corpus, but their words do: the vocabulary is the same either way.
        int size = DemoTokenizerWriter.Write(folder, Corpus(options).ToList(), WorldText.ImageTokens);
        WriteConfig(folder);
        log($"tokenizer: {size} tokens");
        return Load(folder, config);
    }

    public static DemoChat Load(string folder, MultimodalConfig config) => new(TokenizerLoader.Load(folder), config.VisualTokens);

    private static void WriteConfig(string folder)
    {
        var tokenizerConfig = new JsonObject
        {
            ["add_bos_token"] = false,
            ["bos_token"] = null,
            ["eos_token"] = "<|im_end|>",
            ["model_max_length"] = LanguageModelStage.MaxPositions,
            ["chat_template"] = TinyModelFactory.DemoChatTemplate,
        };
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), tokenizerConfig.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
