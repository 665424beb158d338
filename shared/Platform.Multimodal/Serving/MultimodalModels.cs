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

/// <summary>What GILL produced for one [IMG] slot: the decision, the picture as PNG, and the gallery index when retrieved.</summary>
public sealed record ProducedImage(ImageDecision Decision, float RetrieveProbability, byte[] Png, int? GalleryIndex, string? GalleryCaption, byte[] Rgb);

/// <summary>
/// Serving entry point for ImageGen/TextLlm/gateway: loads a multimodal model folder (visual encoder + projection,
/// GILL mapper, retrieval head + gallery embeddings, decision classifier, ONNX decoder session) and turns input
/// images into visual tokens and [IMG] slots into pictures. Thread-safe: torch modules run under no_grad in eval
/// mode and ONNX Runtime sessions allow concurrent Run calls.
/// </summary>
public sealed class MultimodalModels : IDisposable
{
    private readonly MultimodalHeads _heads;
    private readonly OnnxImageDecoder _decoder;
    private readonly Tensor _galleryEmbeddings;
    private readonly byte[] _galleryRgb;
    private readonly string[] _galleryCaptions;
    private readonly ImageLimits _limits;

    private MultimodalModels(MultimodalHeads heads, OnnxImageDecoder decoder, Tensor galleryEmbeddings, byte[] galleryRgb, string[] captions, ImageLimits limits)
    {
        _heads = heads;
        _decoder = decoder;
        _galleryEmbeddings = galleryEmbeddings;
        _galleryRgb = galleryRgb;
        _galleryCaptions = captions;
        _limits = limits;
    }

    public MultimodalConfig Config => _heads.Config;
    public int GallerySize => _galleryCaptions.Length;
    public IReadOnlyList<string> GalleryCaptions => _galleryCaptions;
    /// <summary>The torch modules (for evaluation and tests; serving code uses the methods).</summary>
    public MultimodalHeads Heads => _heads;

    /// <summary>Loads every part; each missing or malformed file is reported by path.</summary>
    public static MultimodalModels Load(string folder, string decoderDevice = "cpu", ImageLimits? limits = null)
    {
        var config = MultimodalConfig.Read(Path.Combine(folder, ModelFiles.Config));
        var heads = new MultimodalHeads(config);
        OnnxImageDecoder? decoder = null;
        try
        {
            var headsPath = Require(folder, ModelFiles.Heads);
            try { heads.load_safetensors(headsPath, strict: true); }
            catch (Exception e) { throw new InvalidDataException($"{headsPath}: cannot load multimodal weights: {e.Message}", e); }
            heads.eval();
            decoder = new OnnxImageDecoder(Require(folder, ModelFiles.DecoderOnnx), decoderDevice);
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
            return new MultimodalModels(heads, decoder, embeddings, rgb, captions, limits ?? new ImageLimits());
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
    public VisualEmbedding EncodeImage(ReadOnlySpan<byte> imageBytes, string name = "image") =>
        EncodeRgb(ImageCodec.DecodeToSquare(imageBytes, Config.ImageSize, _limits, name));

    /// <summary>Visual tokens of an image given as image_size x image_size interleaved RGB bytes.</summary>
    public VisualEmbedding EncodeRgb(byte[] rgb)
    {
        int s = Config.ImageSize;
        if (rgb.Length != s * s * 3) throw new ArgumentException($"expected {s}x{s} RGB ({s * s * 3} bytes), got {rgb.Length}", nameof(rgb));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var image = tensor(SceneRenderer.ToPlanar(rgb), [1, 3, s, s]);
        var tokens = _heads.VisualTokens(image);
        return new VisualEmbedding(Config.VisualTokens, Config.LmHiddenSize, tokens.data<float>().ToArray());
    }

    /// <summary>GILL's output side for one slot: the decision classifier picks generate or retrieve (unless forced),
    /// then the mapper + ONNX decoder draw the image, or the retrieval head picks the nearest gallery image.</summary>
    public ProducedImage ProduceImage(ImageSlot slot, ImageDecision? force = null)
    {
        int r = Config.ImageTokens, h = Config.LmHiddenSize;
        if (slot.Tokens != r || slot.Hidden != h || slot.HiddenStates.Length != r * h || slot.InputEmbeddings.Length != r * h)
            throw new ArgumentException($"image slot must be {r} tokens x {h} hidden (got {slot.Tokens} x {slot.Hidden}, {slot.HiddenStates.Length} and {slot.InputEmbeddings.Length} floats)", nameof(slot));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var hidden = tensor(slot.HiddenStates, [1, r, h]);
        var embeds = tensor(slot.InputEmbeddings, [1, r, h]);
        float pRetrieve = _heads.decision.forward(hidden[.., 0]).softmax(-1)[0, 1].item<float>();
        var decision = force ?? (pRetrieve > 0.5f ? ImageDecision.Retrieve : ImageDecision.Generate);
        int s = Config.ImageSize;
        if (decision == ImageDecision.Retrieve)
        {
            var scores = _heads.retrieval.EmbedText(hidden).matmul(_galleryEmbeddings.t());
            int index = (int)scores.argmax(-1).item<long>();
            var rgb = _galleryRgb.AsSpan(index * s * s * 3, s * s * 3).ToArray();
            return new ProducedImage(decision, pRetrieve, ImageCodec.EncodePng(rgb, s, s), index, _galleryCaptions[index], rgb);
        }
        var conditioning = _heads.Conditioning(hidden, embeds).data<float>().ToArray();
        var generated = SceneRenderer.FromPlanar(_decoder.Run(conditioning, 1));
        return new ProducedImage(decision, pRetrieve, ImageCodec.EncodePng(generated, s, s), null, null, generated);
    }

    public void Dispose()
    {
        _heads.Dispose();
        _decoder.Dispose();
        _galleryEmbeddings.Dispose();
    }
}
