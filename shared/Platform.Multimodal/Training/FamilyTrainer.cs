using System.Diagnostics;
using Platform.Inference.Models.Llama;
using Platform.Multimodal.Models;
using Platform.Multimodal.Onnx;
using Platform.Multimodal.World;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Platform.Multimodal.Training;

/// <summary>
/// Trains the whole family from scratch, stage by stage in order (<see cref="Stages"/>): decoder + its condition
/// encoder (<see cref="DecoderStage"/>), visual encoder (<see cref="VisualEncoderStage"/>), tokenizer
/// (<see cref="TokenizerStage"/>), language model with the visual projection (<see cref="LanguageModelStage"/>),
/// then GILL's mapper, retrieval head and decision classifier on the frozen LM (<see cref="GillHeadsStage"/>), and
/// writes one model folder. A run of some stages only reads the earlier stages' outputs from that folder. Only seen
/// pairs in seen phrasings reach any model; a test scans every stage's stream for held-out pairs.
/// </summary>
public sealed class FamilyTrainer(TrainOptions options, Action<string> log)
{
    public static readonly IReadOnlyList<string> Stages = ["decoder", "visual", "tokenizer", "lm", "heads"];

    private readonly Stopwatch _clock = Stopwatch.StartNew();

    private void Log(string message) => log($"[{_clock.Elapsed.TotalSeconds,6:F1}s] {message}");

    /// <summary>Trains <paramref name="stages"/> (default: all, in order) into the output folder.</summary>
    public void Run(CancellationToken cancellationToken = default, IReadOnlyCollection<string>? stages = null)
    {
        var run = stages ?? Stages;
        if (run.FirstOrDefault(s => !Stages.Contains(s)) is { } unknown)
            throw new ArgumentException($"unknown stage '{unknown}' (stages: {string.Join(", ", Stages)})");
        if (options.Threads > 0) set_num_threads(options.Threads);
        manual_seed(options.Seed);
        var folder = options.OutputFolder;
        Directory.CreateDirectory(folder);
        var configPath = Path.Combine(folder, ModelFiles.Config);
        var folderConfig = run.Contains("decoder") || !File.Exists(configPath)
            ? new MultimodalConfig { LmHiddenSize = options.LmHidden, MapperDim = Math.Max(32, options.LmHidden), MapperHeads = 4 }
            : MultimodalConfig.Read(configPath);
        var config = run.Contains("lm") || run.Contains("heads") ? folderConfig with { MapperContext = options.MapperContext } : folderConfig;
        // The LM stage trains the mapper from its initialisation and the heads stage starts it afresh: the folder's
        // mapper (possibly of another memory size) is only kept when neither runs.
        bool freshMapper = run.Contains("lm") || run.Contains("heads");
        using var heads = new MultimodalHeads(config);
        using var decoder = new ImageDecoder(config);
        var headsPath = Path.Combine(folder, ModelFiles.Heads);
        if (!run.Contains("decoder")) Require(folder, ModelFiles.Heads, ModelFiles.DecoderWeights);
        if (File.Exists(headsPath) && !run.Contains("decoder"))
        {
            // The modules of the stages that run keep the full run's initialisation (same seed, same order of
            // construction); only the skipped stages' modules come from the folder, so "--stages lm,heads" on a
            // folder with the earlier stages' outputs trains as the full run does. A later stage skipped while an
            // earlier one runs keeps the folder's weights of it.
            using var saved = new MultimodalHeads(config);
            var skip = freshMapper ? saved.state_dict().Keys.Where(k => k.StartsWith("mapper.", StringComparison.Ordinal)).ToList() : null;
            saved.load_safetensors(headsPath, strict: true, skip: skip);
            void Take(nn.Module target, nn.Module source) => target.load_state_dict(source.state_dict());
            Take(heads.condition_encoder, saved.condition_encoder);
            if (!run.Contains("visual")) Take(heads.visual_encoder, saved.visual_encoder);
            if (!run.Contains("lm")) { Take(heads.visual_projection, saved.visual_projection); Take(heads.decision, saved.decision); }
            if (!freshMapper) Take(heads.mapper, saved.mapper);
            if (!run.Contains("heads")) Take(heads.retrieval, saved.retrieval);
            decoder.load_safetensors(Path.Combine(folder, ModelFiles.DecoderWeights), strict: true);
        }
        File.WriteAllText(configPath, config.ToJson());

        if (run.Contains("decoder"))
        {
            new DecoderStage(options, Log).Train(heads.condition_encoder, decoder, cancellationToken);
            decoder.save_safetensors(Path.Combine(folder, ModelFiles.DecoderWeights));
            DecoderOnnxExporter.Export(decoder, Path.Combine(folder, ModelFiles.DecoderOnnx));
        }
        // From here on the condition encoder is the fixed "text encoder" whose tables turn predicted attribute
        // distributions into conditioning (ConditionEncoder.FromLogits); gradients pass through it, updates do not.
        foreach (var p in heads.condition_encoder.parameters()) p.requires_grad = false;
        if (run.Contains("visual")) new VisualEncoderStage(options, Log).Train(heads, cancellationToken);
        heads.save_safetensors(headsPath);
        if (!run.Contains("lm") && !run.Contains("heads") && !run.Contains("tokenizer")) return;

        DemoChat chat;
        if (run.Contains("tokenizer")) chat = new TokenizerStage(options, Log).Train(folder, config);
        else
        {
            Require(folder, "tokenizer.json", "tokenizer_config.json");
            chat = TokenizerStage.Load(folder, config);
        }
        if (!run.Contains("lm") && !run.Contains("heads")) return;
        LlamaForCausalLM lm;
        if (run.Contains("lm")) lm = new LanguageModelStage(options, Log).Train(folder, heads, chat, cancellationToken);
        else
        {
            Require(folder, "config.json", "model.safetensors");
            lm = new LlamaForCausalLM(Platform.Inference.Loading.ModelLoader.ReadConfig(folder));
            lm.load_safetensors(Path.Combine(folder, "model.safetensors"), strict: true);
            lm.eval();
        }
        using (lm)
        {
            if (run.Contains("heads")) new GillHeadsStage(options, Log).Train(lm, heads, chat, cancellationToken);
        }
        heads.save_safetensors(headsPath);
        WriteGallery(folder, heads);
        Log($"done: {folder}");
    }

    private static void Require(string folder, params string[] files)
    {
        foreach (var file in files)
            if (!File.Exists(Path.Combine(folder, file)))
                throw new FileNotFoundException($"{Path.Combine(folder, file)}: an earlier stage's output is missing (train that stage first)", file);
    }

    // The stage checks and helpers live on the stage classes; these keep earlier callers compiling.
    public static WorldDialogue CopyAugment(WorldDialogue dialogue, Random random, double probability) => LanguageModelStage.CopyAugment(dialogue, random, probability);
    public static double DecoderExactRate(ConditionEncoder encoder, ImageDecoder decoder, WorldSplit split, int count = 200) => DecoderStage.DecoderExactRate(encoder, decoder, split, count);
    public static (double Exact, double[] PerAttribute) VisualAccuracy(VisualEncoder encoder, WorldSplit split, int count = 300) => VisualEncoderStage.VisualAccuracy(encoder, split, count);

    /// <summary>Trains only the decoder and its condition encoder and writes decoder.safetensors/.onnx (for experiments).</summary>
    public void RunDecoderOnly(CancellationToken cancellationToken = default) => Run(cancellationToken, ["decoder"]);

    /// <summary>The retrieval gallery: every single-object scene of the world (held-out pairs included: retrieving
    /// one is a composition test, since no retrieval prompt for it was trained), images and their embeddings.</summary>
    private void WriteGallery(string folder, MultimodalHeads heads)
    {
        var scenes = Gallery.Scenes();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var images = LmBatch.RenderImages(scenes);
        var embeddings = heads.retrieval.EmbedImage(heads.ImageLatent(images));
        Gallery.Save(folder, scenes, embeddings);
        Log($"gallery: {scenes.Count} images");
    }
}
