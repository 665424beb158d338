using Platform.Inference.Engine;

namespace Platform.Multimodal.Serving;

/// <summary>Batch sizes and the collection window of <see cref="ImageBatcher"/>.</summary>
public sealed record ImageBatchOptions
{
    /// <summary>Most inputs in one batched forward.</summary>
    public int MaxBatchSize { get; init; } = 16;

    /// <summary>How long the worker waits after the first input of a batch for more (zero: a batch is what arrived
    /// while the previous one ran).</summary>
    public TimeSpan Window { get; init; } = TimeSpan.Zero;

    /// <summary>Torch intra-op threads of the workers' forwards, set on each worker thread (torch's count belongs to
    /// the OS thread, as in TextEngine's scheduler); 0 leaves torch's default (one per physical core).</summary>
    public int Threads { get; init; }
}

/// <summary>
/// The served image side of one multimodal model with requests batched across callers (<see cref="MicroBatcher{TIn,TOut}"/>):
/// input images through <see cref="MultimodalModels.EncodeRgbBatch"/>, [IMG] slots through
/// <see cref="MultimodalModels.ProduceImages"/> (decision and retrieval heads, mapper, one ONNX decoder run).
/// Inputs are checked before they are queued, so a malformed one fails alone and never reaches a batch.
/// </summary>
public sealed class ImageBatcher : IDisposable
{
    private readonly MicroBatcher<byte[], VisualEmbedding> _encode;
    private readonly MicroBatcher<ImageSlotRequest, ProducedImage> _produce;

    /// <param name="gate">Shared by the batchers whose forwards must not overlap (all models of one process).</param>
    public ImageBatcher(string name, MultimodalModels models, ImageBatchOptions options, object? gate = null)
    {
        Models = models;
        ArgumentOutOfRangeException.ThrowIfNegative(options.Threads);
        gate ??= new object();
        var threads = options.Threads;
        Action? start = threads > 0 ? () => Platform.Inference.Runtime.TorchThreads.SetForCurrentThread(threads) : null;
        _encode = new MicroBatcher<byte[], VisualEmbedding>($"ImageEncode:{name}", models.EncodeRgbBatch, options.MaxBatchSize, options.Window, gate, start);
        _produce = new MicroBatcher<ImageSlotRequest, ProducedImage>($"ImageProduce:{name}", models.ProduceImages, options.MaxBatchSize, options.Window, gate, start);
    }

    public MultimodalModels Models { get; }

    public MicroBatcherStats EncodeStats => _encode.Stats;
    public MicroBatcherStats ProduceStats => _produce.Stats;

    /// <summary>Decodes the file under the limits (<see cref="Imaging.ImageDecodeException"/> at once on bad input, on the
    /// caller's thread) and queues its visual encoding.</summary>
    public Task<VisualEmbedding> EncodeImageAsync(ReadOnlySpan<byte> imageBytes, string name, CancellationToken cancellationToken) =>
        EncodeRgbAsync(Models.DecodeImage(imageBytes, name), cancellationToken);

    /// <summary>Queues the visual encoding of image_size x image_size RGB (<see cref="ArgumentException"/> at once otherwise).</summary>
    public Task<VisualEmbedding> EncodeRgbAsync(byte[] rgb, CancellationToken cancellationToken)
    {
        Models.ValidateRgb(rgb);
        return _encode.SubmitAsync(rgb, cancellationToken);
    }

    /// <summary>Queues a slot (<see cref="ArgumentException"/> at once when its shape is not the model's).</summary>
    public Task<ProducedImage> ProduceImageAsync(ImageSlot slot, ImageDecision? force, CancellationToken cancellationToken)
    {
        Models.ValidateSlot(slot);
        return _produce.SubmitAsync(new ImageSlotRequest(slot, force), cancellationToken);
    }

    /// <summary>Stops the workers (queued requests are cancelled); the models stay with their owner.</summary>
    public void Dispose()
    {
        _encode.Dispose();
        _produce.Dispose();
    }
}
