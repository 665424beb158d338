using System.Diagnostics;
using Platform.Multimodal.Models.Vq;
using Platform.Multimodal.Onnx;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Platform.Multimodal.MoeAdapter.Training;

/// <summary>File names of the MoE adapter family's folder (models/demo-moe); the base LM's HF files sit beside these.</summary>
public static class MoeModelFiles
{
    public const string VqConfig = "vq_config.json";
    public const string VqWeights = "vq.safetensors";
    public const string VqDecoderOnnx = "vq_decoder.onnx";
}

/// <summary>
/// Trains the MoE adapter family stage by stage into one folder (default models/demo-moe): the VQ image tokenizer
/// (<see cref="VqTokenizerStage"/>), the text-only MoE base (<see cref="MoeBaseStage"/>), then the image adapter on the frozen base (<see cref="MoeAdapterStage"/>). A run of some stages reads the earlier stages'
/// outputs from the folder; every stage seeds torch itself, so a stage alone trains as in the full run.
/// </summary>
public sealed class MoeFamilyTrainer(MoeTrainOptions options, Action<string> log)
{
    public static readonly IReadOnlyList<string> Stages = [VqTokenizerStage.Name, MoeBaseStage.Name, MoeAdapterStage.Name];

    private readonly Stopwatch _clock = Stopwatch.StartNew();

    private void Log(string message) => log($"[{_clock.Elapsed.TotalSeconds,6:F1}s] {message}");

    /// <summary>Seeds torch at the start of a stage (its own offset from the run's seed).</summary>
    public static void SeedStage(MoeTrainOptions options, string stage) => manual_seed(options.Seed + 1000 + 100 * Stages.ToList().IndexOf(stage));

    public void Run(CancellationToken cancellationToken = default, IReadOnlyCollection<string>? stages = null)
    {
        var run = stages ?? Stages;
        if (run.FirstOrDefault(s => !Stages.Contains(s)) is { } unknown)
            throw new ArgumentException($"unknown stage '{unknown}' (stages: {string.Join(", ", Stages)})");
        if (options.Threads > 0) set_num_threads(options.Threads);
        var folder = options.OutputFolder;
        Directory.CreateDirectory(folder);
        if (run.Contains(VqTokenizerStage.Name))
        {
            using var vq = new VqTokenizerStage(options, Log).Train(cancellationToken);
            File.WriteAllText(Path.Combine(folder, MoeModelFiles.VqConfig), vq.Config.ToJson());
            vq.save_safetensors(Path.Combine(folder, MoeModelFiles.VqWeights));
            VqDecoderOnnxExporter.Export(vq, Path.Combine(folder, MoeModelFiles.VqDecoderOnnx));
            Log($"vq tokenizer: {vq.parameters().Sum(p => p.numel()) + vq.codebook.embedding.numel()} weights, decoder exported to {MoeModelFiles.VqDecoderOnnx}");
        }
        if (run.Contains(MoeBaseStage.Name))
        {
            using var lm = new MoeBaseStage(options, Log).Train(folder, cancellationToken);
        }
        if (run.Contains(MoeAdapterStage.Name))
        {
            using var adapter = new MoeAdapterStage(options, Log).Train(folder, cancellationToken);
            adapter.BaseModel.Dispose();
        }
        Log($"done: {folder}");
    }

    /// <summary>The trained VQ tokenizer of a folder.</summary>
    public static VqTokenizer LoadVq(string folder)
    {
        var config = VqTokenizerConfig.Read(Path.Combine(folder, MoeModelFiles.VqConfig));
        var path = Path.Combine(folder, MoeModelFiles.VqWeights);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: VQ tokenizer weights not found", path);
        var vq = new VqTokenizer(config);
        vq.load_safetensors(path, strict: true);
        vq.eval();
        return vq;
    }
}
