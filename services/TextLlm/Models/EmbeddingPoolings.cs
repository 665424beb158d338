using Platform.Inference.Engine;

namespace TextLlm.Models;

/// <summary>The names of <see cref="EmbeddingPooling"/> in configuration and in responses.</summary>
public static class EmbeddingPoolings
{
    public const string LastToken = "last_token";
    public const string Mean = "mean";

    /// <summary>Parses a registry entry's Pooling; an unknown name stops the start with a message that names the model.</summary>
    public static EmbeddingPooling Parse(string model, string value) => value switch
    {
        LastToken => EmbeddingPooling.LastToken,
        Mean => EmbeddingPooling.Mean,
        _ => throw new InvalidOperationException($"Models:{model}:Pooling is '{value}'; it must be '{LastToken}' or '{Mean}'."),
    };
}
