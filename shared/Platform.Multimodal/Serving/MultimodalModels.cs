using System.Text.Json;
using Platform.Inference.Engine;
using Platform.Multimodal.Imaging;
using Platform.Multimodal.Models;
using Platform.Multimodal.Onnx;
using Platform.Multimodal.Training;
using Platform.Multimodal.World;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Platform.Multimodal.Serving;

public enum ImageDecision { Generate, Retrieve }

/// <summary>One [IMG] slot to turn into a picture, with the decision forced or (null) left to the decision head.</summary>
public sealed record ImageSlotRequest(ImageSlot Slot, ImageDecision? Force = null);

/// <summary>
/// What GILL produced for one [IMG] slot: the decision, the picture (interleaved RGB, <see cref="Size"/> squared), and
/// the gallery index when retrieved. The PNG is encoded when first read, on the reader's thread: a batch worker only
/// hands out the pixels, and each request's consumer encodes its own picture, in parallel and outside the forward
/// gate (encoding was the largest part of a batch's time on the demo model, and it ran one picture after another).
/// </summary>
public sealed class ProducedImage(ImageDecision decision, float retrieveProbability, byte[] rgb, int size, int? galleryIndex, string? galleryCaption)
{
    private readonly Lazy<byte[]> _png = new(() => ImageCodec.EncodePng(rgb, size, size));

    public ImageDecision Decision { get; } = decision;
    public float RetrieveProbability { get; } = retrieveProbability;
    public byte[] Rgb { get; } = rgb;
    public int Size { get; } = size;
    public int? GalleryIndex { get; } = galleryIndex;
    public string? GalleryCaption { get; } = galleryCaption;
    /// <summary>The picture as an 8-bit RGB PNG (lossless: it decodes to <see cref="Rgb"/>).</summary>
    public byte[] Png => _png.Value;
}

/// <summary>
/// Serving entry point for ImageGen/TextLlm/gateway: loads a multimodal model folder (visual encoder + projection,
/// GILL mapper, retrieval head + gallery embeddings, decision classifier, ONNX decoder session) and turns input
/// images into visual tokens and [IMG] slots into pictures. Thread-safe: torch modules run under no_grad in eval
/// mode and ONNX Runtime sessions allow concurrent Run calls.
/// </summary>
public sealed class MultimodalModels : IDisposable
{
    // Full folders have the heads, the decoder and the gallery; input-only folders (MultimodalConfig.InputOnly) only _input.
    private readonly MultimodalHeads? _heads;
    private readonly VisualInput? _input;
    private readonly OnnxImageDecoder? _decoder;
    private readonly Tensor? _galleryEmbeddings;
    private readonly byte[] _galleryRgb;
    private readonly string[] _galleryCaptions;
    private readonly ImageLimits _limits;

    private MultimodalModels(MultimodalConfig config, MultimodalHeads? heads, VisualInput? input, OnnxImageDecoder? decoder, Tensor? galleryEmbeddings,
        byte[] galleryRgb, string[] captions, ImageLimits limits)
    {
        Config = config;
        _heads = heads;
        _input = input;
        _decoder = decoder;
        _galleryEmbeddings = galleryEmbeddings;
        _galleryRgb = galleryRgb;
        _galleryCaptions = captions;
        _limits = limits;
    }

    public MultimodalConfig Config { get; }
    public int GallerySize => _galleryCaptions.Length;
    public IReadOnlyList<string> GalleryCaptions => _galleryCaptions;
    /// <summary>Whether this model draws pictures ([IMG] slots); an input-only model only encodes them.</summary>
    public bool ProducesImages => _heads is not null;
    /// <summary>The torch modules (for evaluation and tests; serving code uses the methods).</summary>
    public MultimodalHeads Heads => _heads ?? throw new InvalidOperationException("an input-only multimodal model has no GILL heads");

    /// <summary>Loads every part; each missing or malformed file is reported by path. An input-only folder
    /// (<see cref="MultimodalConfig.InputOnly"/>) needs only multimodal_config.json and multimodal.safetensors with the
    /// visual encoder and projection (<see cref="VisualInput"/>). <paramref name="decoderThreads"/>: ONNX Runtime
    /// intra-op threads of the decoder (<see cref="OnnxImageDecoder"/>; 1 runs it on the calling thread).</summary>
    public static MultimodalModels Load(string folder, string decoderDevice = "cpu", ImageLimits? limits = null, int decoderThreads = 1)
    {
        var config = MultimodalConfig.Read(Path.Combine(folder, ModelFiles.Config));
        if (config.InputOnly)
        {
            var input = new VisualInput(config);
            try
            {
                var path = Require(folder, ModelFiles.Heads);
                try { input.load_safetensors(path, strict: true); }
                catch (Exception e) { throw new InvalidDataException($"{path}: cannot load the visual encoder and projection: {e.Message}", e); }
                input.eval();
                return new MultimodalModels(config, null, input, null, null, [], [], limits ?? new ImageLimits());
            }
            catch
            {
                input.Dispose();
                throw;
            }
        }
        var heads = new MultimodalHeads(config);
        OnnxImageDecoder? decoder = null;
        try
        {
            var headsPath = Require(folder, ModelFiles.Heads);
            try { heads.load_safetensors(headsPath, strict: true); }
            catch (Exception e) { throw new InvalidDataException($"{headsPath}: cannot load multimodal weights: {e.Message}", e); }
            heads.eval();
            decoder = new OnnxImageDecoder(Require(folder, ModelFiles.DecoderOnnx), decoderDevice, decoderThreads);
            if (decoder.Slots != config.ConditionSlots || decoder.Dim != config.ConditionDim)
                throw new InvalidDataException($"{decoder.Path}: input is [batch, {decoder.Slots}, {decoder.Dim}], config says [batch, {config.ConditionSlots}, {config.ConditionDim}]");
            var galleryPath = Require(folder, ModelFiles.Gallery);
            var gallery = Safetensors.LoadStateDict(galleryPath);
            if (!gallery.TryGetValue("images", out var images) || !gallery.TryGetValue("embeddings", out var embeddings))
                throw new InvalidDataException($"{galleryPath}: needs tensors 'images' and 'embeddings'");
            var captionsPath = Require(folder, ModelFiles.GalleryCaptions);
            var captions = JsonSerializer.Deserialize<string[]>(File.ReadAllText(captionsPath)) ?? [];
            if (captions.Length != images.shape[0] || embeddings.shape[0] != images.shape[0])
                throw new InvalidDataException($"{galleryPath}: {images.shape[0]} images, {embeddings.shape[0]} embeddings, {captions.Length} captions");
            var rgb = images.to_type(ScalarType.Byte).data<byte>().ToArray();
            images.Dispose();
            return new MultimodalModels(config, heads, null, decoder, embeddings, rgb, captions, limits ?? new ImageLimits());
        }
        catch
        {
            heads.Dispose();
            decoder?.Dispose();
            throw;
        }
    }

    private static string Require(string folder, string file)
    {
        var path = Path.Combine(folder, file);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found", path);
        return path;
    }

    /// <summary>Decodes an image (with the byte/pixel limits; <see cref="ImageDecodeException"/> on bad input),
    /// resizes it to the encoder's size and returns its visual tokens in the LM's embedding space.</summary>
    public VisualEmbedding EncodeImage(ReadOnlySpan<byte> imageBytes, string name = "image") => EncodeRgb(DecodeImage(imageBytes, name));

    /// <summary>The visual encoder's input for an image file: decoded under the limits and resized to image_size x
    /// image_size interleaved RGB (<see cref="ImageDecodeException"/> on bad input). No torch work: callers decode in
    /// parallel and batch <see cref="EncodeRgbBatch"/>.</summary>
    public byte[] DecodeImage(ReadOnlySpan<byte> imageBytes, string name = "image") =>
        ImageCodec.DecodeToSquare(imageBytes, Config.ImageSize, _limits, name);

    /// <summary>Visual tokens of an image given as image_size x image_size interleaved RGB bytes.</summary>
    public VisualEmbedding EncodeRgb(byte[] rgb) => EncodeRgbBatch([rgb])[0];

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="rgb"/> is image_size x image_size RGB.</summary>
    public void ValidateRgb(byte[] rgb)
    {
        int s = Config.ImageSize;
        if (rgb.Length != s * s * 3) throw new ArgumentException($"expected {s}x{s} RGB ({s * s * 3} bytes), got {rgb.Length}", nameof(rgb));
    }

    /// <summary>Visual tokens of several images in one forward of the visual encoder and projection ([B, 3, S, S]);
    /// row b of the result belongs to image b.</summary>
    public IReadOnlyList<VisualEmbedding> EncodeRgbBatch(IReadOnlyList<byte[]> images)
    {
        if (images.Count == 0) return [];
        foreach (var rgb in images) ValidateRgb(rgb);
        int s = Config.ImageSize, n = s * s * 3, b = images.Count;
        var planar = new float[b * n];
        for (int i = 0; i < b; i++) SceneRenderer.ToPlanar(images[i]).CopyTo(planar, i * n);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var pixels = tensor(planar, [b, 3, s, s]);
        var tokens = (_heads is not null ? _heads.VisualTokens(pixels) : _input!.VisualTokens(pixels)).contiguous().data<float>().ToArray();
        int per = Config.VisualTokens * Config.LmHiddenSize;
        return Enumerable.Range(0, b)
            .Select(i => new VisualEmbedding(Config.VisualTokens, Config.LmHiddenSize, tokens.AsSpan(i * per, per).ToArray()))
            .ToList();
    }

    /// <summary>GILL's output side for one slot: the decision classifier picks generate or retrieve (unless forced),
    /// then the mapper + ONNX decoder draw the image, or the retrieval head picks the nearest gallery image.</summary>
    public ProducedImage ProduceImage(ImageSlot slot, ImageDecision? force = null) => ProduceImages([new ImageSlotRequest(slot, force)])[0];

    /// <summary>Throws <see cref="ArgumentException"/> unless the slot has states and embeddings of lm_hidden width for
    /// the r [IMG] tokens, after at most mapper_context words.</summary>
    public void ValidateSlot(ImageSlot slot)
    {
        if (_heads is null) throw new ArgumentException("this model only reads images (an input-only multimodal folder): it draws none", nameof(slot));
        int r = Config.ImageTokens, h = Config.LmHiddenSize, max = r + Config.MapperContext;
        if (slot.Tokens < r || slot.Tokens > max || slot.Hidden != h || slot.HiddenStates.Length != slot.Tokens * h || slot.InputEmbeddings.Length != slot.Tokens * h)
            throw new ArgumentException($"image slot must be {r} to {max} tokens x {h} hidden (got {slot.Tokens} x {slot.Hidden}, {slot.HiddenStates.Length} and {slot.InputEmbeddings.Length} floats)", nameof(slot));
    }

    /// <summary>
    /// <see cref="ProduceImage"/> for several slots at once: one decision-head forward for all of them, one retrieval
    /// forward for those retrieved, one mapper forward and one ONNX decoder run ([B, slots, dim]) for those generated.
    /// Result i belongs to request i.
    /// </summary>
    public IReadOnlyList<ProducedImage> ProduceImages(IReadOnlyList<ImageSlotRequest> requests)
    {
        if (requests.Count == 0) return [];
        foreach (var q in requests) ValidateSlot(q.Slot);
        int r = Config.ImageTokens, h = Config.LmHiddenSize, s = Config.ImageSize, b = requests.Count, rows = r + Config.MapperContext;
        // Each slot's rows are padded at the front to mapper_context + r (the [IMG] tokens last), as in training
        // (Training.MapperMemory).
        var hiddenData = new float[b * rows * h];
        var embedData = new float[b * rows * h];
        var keepData = new bool[b * rows];
        for (int i = 0; i < b; i++)
        {
            var slot = requests[i].Slot;
            int pad = rows - slot.Tokens;
            slot.HiddenStates.CopyTo(hiddenData, (i * rows + pad) * h);
            slot.InputEmbeddings.CopyTo(embedData, (i * rows + pad) * h);
            for (int j = pad; j < rows; j++) keepData[i * rows + j] = true;
        }
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (heads, decoder, gallery) = (_heads!, _decoder!, _galleryEmbeddings!);
        var memoryHidden = tensor(hiddenData, [b, rows, h]);
        var memoryEmbeds = tensor(embedData, [b, rows, h]);
        var keep = tensor(keepData, [b, rows]);
        var hidden = memoryHidden[.., ^r..];
        var pRetrieve = heads.decision.forward(hidden[.., 0]).softmax(-1)[.., 1].contiguous().data<float>().ToArray();
        var decisions = new ImageDecision[b];
        for (int i = 0; i < b; i++) decisions[i] = requests[i].Force ?? (pRetrieve[i] > 0.5f ? ImageDecision.Retrieve : ImageDecision.Generate);
        var results = new ProducedImage[b];

        var retrieve = Enumerable.Range(0, b).Where(i => decisions[i] == ImageDecision.Retrieve).ToArray();
        if (retrieve.Length > 0)
        {
            var selected = tensor(retrieve.Select(i => (long)i).ToArray());
            var best = heads.retrieval.EmbedText(hidden.index_select(0, selected)).matmul(gallery.t()).argmax(-1).data<long>().ToArray();
            for (int k = 0; k < retrieve.Length; k++)
            {
                int i = retrieve[k], index = (int)best[k];
                var rgb = _galleryRgb.AsSpan(index * s * s * 3, s * s * 3).ToArray();
                results[i] = new ProducedImage(ImageDecision.Retrieve, pRetrieve[i], rgb, s, index, _galleryCaptions[index]);
            }
        }

        var generate = Enumerable.Range(0, b).Where(i => decisions[i] == ImageDecision.Generate).ToArray();
        if (generate.Length > 0)
        {
            var index = tensor(generate.Select(i => (long)i).ToArray());
            var conditioning = heads.Conditioning(memoryHidden.index_select(0, index), memoryEmbeds.index_select(0, index), keep.index_select(0, index)).contiguous().data<float>().ToArray();
            var pixels = decoder.Run(conditioning, generate.Length);
            int n = 3 * s * s;
            for (int k = 0; k < generate.Length; k++)
            {
                int i = generate[k];
                var rgb = SceneRenderer.FromPlanar(pixels.AsSpan(k * n, n));
                results[i] = new ProducedImage(ImageDecision.Generate, pRetrieve[i], rgb, s, null, null);
            }
        }
        return results;
    }

    public void Dispose()
    {
        _heads?.Dispose();
        _input?.Dispose();
        _decoder?.Dispose();
        _galleryEmbeddings?.Dispose();
    }
}
