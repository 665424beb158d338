using Platform.Inference.Generation;
using Platform.Inference.Loading;
using static TorchSharp.torch;

namespace Platform.Inference.Engine.Scheduling;

/// <summary>
/// The sampling of one forward's rows: one batched <see cref="Sampler.Choose"/> over their logits (each row with its
/// own sampling state), then, per row, the logits and logprobs its request asked for and the token handed to
/// <see cref="TokenHandler"/>.
/// </summary>
internal sealed class StepSampler
{
    private readonly LoadedModel _model;
    private readonly TokenHandler _handler;

    public StepSampler(LoadedModel model, TokenHandler handler)
    {
        _model = model;
        _handler = handler;
    }

    /// <summary>Samples row k of <paramref name="logits"/> ([rows, vocab] or [rows, 1, vocab]) for
    /// <paramref name="rows"/>[k]; a sequence already finished gets nothing.</summary>
    public void Sample(Tensor logits, IReadOnlyList<Sequence> rows)
    {
        var flat = logits.view(rows.Count, -1);
        var tokens = Sampler.Choose(flat, rows.Select(s => s.Sampling).ToArray());
        for (int k = 0; k < rows.Count; k++)
            if (!rows[k].Finished) _handler.Handle(rows[k], tokens[k], LogitsRow(rows[k], flat, k), LogprobRow(rows[k], flat, k, tokens[k]));
    }

    /// <summary>Row <paramref name="row"/> of logits [B, vocab] as floats, when the sequence asked for logits.</summary>
    private static float[]? LogitsRow(Sequence seq, Tensor logits, int row) =>
        seq.Request.ReturnLogits ? logits[row].to(CPU).data<float>().ToArray() : null;

    /// <summary>With <see cref="GenerationRequest.Logprobs"/>: the chosen token's log-probability and the top alternatives.</summary>
    private TokenLogprob? LogprobRow(Sequence seq, Tensor logits, int row, int token) =>
        seq.Request.Logprobs is { } top
            ? LogprobCalculator.Compute(logits[row], seq.Sampling.Options.Temperature, token, top, TokenBytes)
            : null;

    /// <summary>The bytes a logprob reports for a token: the tokenizer's, or an image token's name (<see cref="PictureConstraint.TokenText"/>).</summary>
    private byte[] TokenBytes(int id) => _model.ImageVocabulary is { } v && id >= v.BaseVocabulary
        ? System.Text.Encoding.UTF8.GetBytes(PictureConstraint.TokenText(v, _model.ImageAdapterConfig, id))
        : _model.Tokenizer.TokenBytes(id).ToArray();
}
