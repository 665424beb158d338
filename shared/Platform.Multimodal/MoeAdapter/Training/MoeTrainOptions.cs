using System.ComponentModel.DataAnnotations;

namespace Platform.Multimodal.MoeAdapter.Training;

/// <summary>Sizes and step counts of one training run of the MoE adapter family (<see cref="MoeFamilyTrainer"/>), fixed seed.</summary>
public sealed record MoeTrainOptions
{
    [Required] public string OutputFolder { get; init; } = "models/demo-moe";
    /// <summary>The dense demo LM (a LlamaForCausalLM HF folder) the base is upcycled from; read only by the base stage.</summary>
    [Required] public string DenseModel { get; init; } = "models/demo";
    public int Seed { get; init; } = 1234;
    [Range(0, 100_000)] public int VqSteps { get; init; } = 1200;
    [Range(1, 4096)] public int VqBatch { get; init; } = 32;
    /// <summary>Probability that a VQ training scene is rendered with the world's pixel jitter (else at the cell centres,
    /// as every drawing target is).</summary>
    [Range(0.0, 1.0)] public double VqJitter { get; init; } = 0.5;
    [Range(8, 65536)] public int VqCodebook { get; init; } = 256;
    [Range(1, 1024)] public int VqCodeDim { get; init; } = 32;
    [Range(1, 64)] public int VqGrid { get; init; } = 8;
    [Range(4, 1024)] public int VqChannels { get; init; } = 64;
    [Range(0, 100_000)] public int BaseSteps { get; init; } = 300;
    [Range(1, 4096)] public int BaseBatch { get; init; } = 16;
    [Range(2, 64)] public int Experts { get; init; } = 4;
    [Range(1, 64)] public int ExpertsPerToken { get; init; } = 2;
    [Range(0, 1_000_000)] public int AdapterSteps { get; init; } = 1500;
    [Range(1, 4096)] public int AdapterBatch { get; init; } = 16;
    [Range(1e-6, 1.0)] public double AdapterLr { get; init; } = 5e-3;
    [Range(1, 1024)] public int AdapterRank { get; init; } = 8;
    [Range(0.0, 1e6)] public double AdapterAlpha { get; init; } = 16;
    /// <summary>Initial code embeddings: random by default (models/demo-moe/gw_comparison.json: GW did not reach random's
    /// loss sooner on any of 3 seeds); <see cref="ImageTokenInit.GromovWasserstein"/> on request.</summary>
    public ImageTokenInit AdapterInit { get; init; } = ImageTokenInit.Random;
    /// <summary>Validation requests (seen pairs and phrasings, their own seed) scored before and after training.</summary>
    [Range(1, 4096)] public int AdapterValidation { get; init; } = 64;
    /// <summary>Torch intra-op threads (1: see <see cref="Platform.Multimodal.Training.TrainOptions.Threads"/>).</summary>
    [Range(0, 64)] public int Threads { get; init; } = 1;

    /// <summary>A few steps of everything at tiny sizes (the smoke test's settings).</summary>
    public static MoeTrainOptions Quick(string output, string denseModel) => new()
    {
        OutputFolder = output, DenseModel = denseModel, VqSteps = 3, VqBatch = 4, VqCodebook = 16, VqCodeDim = 8, VqChannels = 8,
        BaseSteps = 3, BaseBatch = 2, AdapterSteps = 3, AdapterBatch = 2, AdapterRank = 2, AdapterValidation = 2,
    };
}
