using System.ComponentModel.DataAnnotations;

namespace Platform.Multimodal.Training;

/// <summary>Sizes and step counts of one training run of the whole family (all from scratch, fixed seed).</summary>
public sealed record TrainOptions
{
    [Required] public string OutputFolder { get; init; } = "models/demo";
    public int Seed { get; init; } = 1234;
    [Range(0, 100_000)] public int DecoderSteps { get; init; } = 1200;
    [Range(0, 100_000)] public int VisualSteps { get; init; } = 800;
    [Range(0, 100_000)] public int LmSteps { get; init; } = 1500;
    [Range(0, 100_000)] public int HeadSteps { get; init; } = 1500;
    [Range(1, 4096)] public int ImageBatch { get; init; } = 32;
    [Range(1, 4096)] public int LmBatch { get; init; } = 16;
    /// <summary>Conversations whose [IMG] states train the mapper, retrieval and decision heads.</summary>
    [Range(8, 1_000_000)] public int HeadExamples { get; init; } = 4000;
    /// <summary>Probability that a picture request of the LM's stream is copy-augmented (<see cref="LanguageModelStage.CopyAugment"/>).</summary>
    [Range(0.0, 1.0)] public double CopyAugmentation { get; init; } = 0.25;
    /// <summary>Probability that an input colour word before a shape word of an answer is read as another colour that
    /// forms a seen pair with the shape (<see cref="LanguageModelStage.WithColourNoise"/>).</summary>
    [Range(0.0, 1.0)] public double ColourNoise { get; init; } = 0.5;
    /// <summary>Colour noise reads the colour word as a world word that is no colour (as copy augmentation's words)
    /// instead of another colour: the [IMG] states then learn the shape from the shape word whatever stands before it.</summary>
    public bool ColourNoiseWithoutColours { get; init; }
    /// <summary>Drawing requests added to each LM batch (besides <see cref="LmBatch"/> conversations of the mixed stream).</summary>
    [Range(0, 4096)] public int LmExtraInstructions { get; init; } = 8;
    /// <summary>Conversations added to each LM batch from a stream of their own (<see cref="LanguageModelStage.Extra"/>): in
    /// turn a request for an unknown thing, two pictures in one answer, a follow-up edit.</summary>
    [Range(0, 4096)] public int LmExtraConversations { get; init; } = 6;
    /// <summary>Weight of the mapper's attribute cross entropy in the LM stage (it also trains the LM's [IMG] states).</summary>
    [Range(0.0, 100.0)] public double LmMapperWeight { get; init; } = 0.2;
    /// <summary>Words before the [IMG] tokens that the mapper reads (<see cref="Models.MultimodalConfig.MapperContext"/>).</summary>
    [Range(0, 256)] public int MapperContext { get; init; } = 32;
    [Range(8, 8192)] public int LmHidden { get; init; } = 128;
    [Range(1, 64)] public int LmLayers { get; init; } = 4;
    [Range(1, 64)] public int LmHeads { get; init; } = 4;
    [Range(8, 32768)] public int LmIntermediate { get; init; } = 384;
    /// <summary>Torch intra-op threads. 1 by default: on a shared 2-core machine OpenMP's spinning worker threads made
    /// a decoder step ~18x slower with 2 threads (1 s against 55 ms) while other processes ran.</summary>
    [Range(0, 64)] public int Threads { get; init; } = 1;

    /// <summary>A few steps of everything at tiny sizes (the smoke test's settings).</summary>
    public static TrainOptions Quick(string output) => new()
    {
        OutputFolder = output, DecoderSteps = 3, VisualSteps = 3, LmSteps = 3, HeadSteps = 3, ImageBatch = 8, LmBatch = 4,
        HeadExamples = 16, LmExtraInstructions = 2, LmExtraConversations = 3, LmHidden = 32, LmLayers = 1, LmHeads = 2, LmIntermediate = 64,
    };
}
