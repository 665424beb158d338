using Platform.Inference.Generation;
using Platform.Inference.Loading;
using Platform.Inference.Tokenization;

namespace Platform.Inference.Engine.Scheduling;

/// <summary>
/// A request's scheduler state from its built prompt: its stop tokens, its sampling state with the grammar and
/// picture constraints, its text stream, and a cancellation source linked to the caller's token.
/// </summary>
internal sealed class SequenceFactory
{
    private readonly LoadedModel _model;

    public SequenceFactory(LoadedModel model) => _model = model;

    /// <summary>The new sequence and its cancellation source (the caller disposes it when the stream ends).
    /// Throws ArgumentException for a prompt whose image tokens are not well-formed pictures.</summary>
    public (Sequence Sequence, CancellationTokenSource Cancellation) Create(GenerationRequest request, BuiltPrompt prompt, CancellationToken cancellationToken)
    {
        var tokens = prompt.Tokens;
        // An image-token model's pictures are always constrained; a prompt whose image tokens are malformed is refused.
        var pictures = _model.ImageVocabulary is { } iv ? new PictureConstraint(iv, _model.ImageAdapterConfig!.GridSize, tokens) : null;
        var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var stops = StopTokens(request, prompt.IsChat);
        var seq = new Sequence
        {
            Request = request,
            PromptTokens = tokens,
            PromptEmbeddingRows = prompt.Rows,
            Layout = prompt.Layout,
            Sampling = new SamplingState(request.Sampling, tokens)
            {
                Constraint = request.Grammar is { } grammar ? new Constraints.TokenConstraint(grammar, _model.Tokenizer, stops, cts.Token) : null,
                Pictures = pictures,
            },
            Text = new TextStreamAssembler(request.StopStrings, _model.Tokenizer.StripsLeadingSpace),
            StopTokens = stops,
            Cancellation = cts.Token,
        };
        return (seq, cts);
    }

    /// <summary>The request's stop token ids, plus the model's end tokens unless <see cref="GenerationRequest.IgnoreEos"/>,
    /// plus the chat template's end-of-turn tokens for a prompt it rendered.</summary>
    public HashSet<int> StopTokens(GenerationRequest request, bool isChat)
    {
        var stops = new HashSet<int>(request.IgnoreEos ? request.StopTokenIds : request.StopTokenIds.Concat(_model.EosTokenIds));
        if (isChat && !request.IgnoreEos)
            foreach (var t in _model.ChatTemplate.EndOfTurnTokens)
                if (_model.Tokenizer.TokenToId(t) is int id) stops.Add(id);
        return stops;
    }
}
