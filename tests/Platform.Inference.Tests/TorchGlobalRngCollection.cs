namespace Platform.Inference.Tests;

/// <summary>
/// Tests whose random weights must come out the same every run: module init and randn draw from torch's one global
/// generator, so a test in another class drawing at the same moment changes them (TinyModelFactory's lock only
/// serialises the factory itself). The classes in this collection run alone, after the parallel ones.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchGlobalRngCollection
{
    public const string Name = "torch global generator";
}
