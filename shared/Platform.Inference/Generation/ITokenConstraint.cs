using static TorchSharp.torch;

namespace Platform.Inference.Generation;

/// <summary>
/// A per-sequence restriction of the next token (constrained decoding): <see cref="Sampler"/> masks a row's logits
/// with it before any other processing, and the engine reports each chosen token with <see cref="Advance"/>.
/// </summary>
public interface ITokenConstraint
{
    /// <summary>Sets the logits of tokens that may not come next to -infinity (in place, one row [vocab]).</summary>
    void Mask(Tensor logits);

    /// <summary>Moves past the token the sampler chose.</summary>
    void Advance(int token);

    /// <summary>Nothing more may follow: the engine ends the sequence ("stop").</summary>
    bool IsComplete { get; }
}
