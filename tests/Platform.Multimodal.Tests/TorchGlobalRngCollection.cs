namespace Platform.Multimodal.Tests;

/// <summary>
/// Tests that compare two training runs: the stages seed torch's one global generator, so a test in another class
/// drawing from it at the same moment changes one run and not the other. The classes in this collection run alone,
/// after the parallel ones.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchGlobalRngCollection
{
    public const string Name = "torch global generator";
}
