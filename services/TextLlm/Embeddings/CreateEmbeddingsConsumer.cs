using MassTransit;
using Platform.Contracts.Chat;
using Platform.Contracts.Embeddings;
using Platform.Inference.Engine;
using TextLlm.Models;

namespace TextLlm.Embeddings;

/// <summary>
/// Embeds the inputs of a <see cref="CreateEmbeddings"/> from the model's queue with its engine (pooled hidden states,
/// the pooling named in the model's registry entry) and answers with the vectors or a rejection that names the field.
/// </summary>
public sealed class CreateEmbeddingsConsumer(
    EngineHost engines,
    IReadOnlyDictionary<string, ModelEntry> registry,
    WorkerIdentity identity) : IConsumer<CreateEmbeddings>
{
    public async Task Consume(ConsumeContext<CreateEmbeddings> context)
    {
        var m = context.Message;
        if (!engines.Engines.TryGetValue(m.Model, out var engine) || engine is not ITextEmbedder embedder || !registry.TryGetValue(m.Model, out var entry))
        {
            await Reject(context, ChatErrorCodes.ModelNotFound, $"The model '{m.Model}' is not served by worker '{identity.WorkerId}'.", "model");
            return;
        }
        IReadOnlyList<int[]> tokens;
        try
        {
            tokens = m.TokenInputs is { } given
                ? given.Select(t => t.ToArray()).ToList()
                : embedder.TokenizeForEmbedding(m.Inputs ?? []);
        }
        catch (ContextLengthExceededException ex)
        {
            await Reject(context, ChatErrorCodes.ContextLengthExceeded, ex.Message, "input");
            return;
        }
        catch (ArgumentException ex)
        {
            await Reject(context, ChatErrorCodes.InvalidRequest, ex.Message, "input");
            return;
        }
        if (m.Dimensions is { } d && (d < 1 || d > embedder.EmbeddingSize))
        {
            await Reject(context, ChatErrorCodes.InvalidRequest,
                $"Invalid 'dimensions': {d}; model '{m.Model}' makes embeddings of at most {embedder.EmbeddingSize} dimensions.", "dimensions");
            return;
        }
        float[][] vectors;
        try
        {
            vectors = await embedder.EmbedAsync(tokens, EmbeddingPoolings.Parse(m.Model, entry.Pooling), m.Dimensions, context.CancellationToken);
        }
        catch (ContextLengthExceededException ex)
        {
            await Reject(context, ChatErrorCodes.ContextLengthExceeded, ex.Message, "input");
            return;
        }
        catch (ArgumentException ex)
        {
            await Reject(context, ChatErrorCodes.InvalidRequest, ex.Message, "input");
            return;
        }
        await context.RespondAsync(new EmbeddingsCreated(m.RequestId, identity.WorkerId, vectors, tokens.Sum(t => t.Length), entry.Pooling));
    }

    private async Task Reject(ConsumeContext<CreateEmbeddings> context, string code, string message, string? param) =>
        await context.RespondAsync(new EmbeddingsRejected(context.Message.RequestId, identity.WorkerId, code, message, param));
}
