using Platform.Multimodal.Models;
using Platform.Multimodal.Onnx;
using Platform.Multimodal.Training;
using Platform.Multimodal.World;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Platform.Train.Judge;

/// <summary>A picture of one object and what it really shows (for a decoder picture: what the pixel checker reads).</summary>
public sealed record Picture(Description Shown, byte[] Rgb, bool FromDecoder);

/// <summary>
/// Pictures for the judge's image cases, two kinds: rendered by <see cref="SceneRenderer"/> (exactly what was asked,
/// jittered as in the world) and drawn by the demo family's decoder (ONNX, conditioned on the asked attributes through
/// the family's condition encoder). A decoder picture's ground truth is what <see cref="SceneChecker"/> reads in it,
/// not what it was asked for: the decoder sometimes draws another shape or position, and those pictures are the
/// natural "does not match" cases. Decoder pictures whose reading is unclear (no object, two objects, unclear shape)
/// are dropped, and so are those whose reading is a held-out colour/shape pair when the pool is for training.
/// </summary>
public sealed class JudgePictures
{
    private readonly Random _random;
    private readonly Dictionary<Description, Picture> _decoded;
    private readonly double _decoderShare;

    private JudgePictures(Random random, Dictionary<Description, Picture> decoded, double decoderShare)
    {
        _random = random;
        _decoded = decoded;
        _decoderShare = decoderShare;
    }

    public int DecoderPictures => _decoded.Count;

    /// <summary>Rendered pictures only.</summary>
    public static JudgePictures RenderedOnly(int seed) => new(new Random(seed), [], 0);

    /// <summary>
    /// Draws every single-object description the split allows with the decoder of <paramref name="familyFolder"/>
    /// (multimodal_config.json, multimodal.safetensors for the condition encoder, decoder.onnx), once.
    /// </summary>
    public static JudgePictures WithDecoder(int seed, string familyFolder, WorldSplit split, double decoderShare)
    {
        var config = MultimodalConfig.Read(Path.Combine(familyFolder, ModelFiles.Config));
        using var heads = new MultimodalHeads(config);
        heads.load_safetensors(Path.Combine(familyFolder, ModelFiles.Heads), strict: true);
        heads.eval();
        using var decoder = new OnnxImageDecoder(Path.Combine(familyFolder, ModelFiles.DecoderOnnx));
        var asked = new List<Description>();
        foreach (var size in new[] { ObjectSize.Small, ObjectSize.Large })
            for (int colour = 0; colour < Palette.Count; colour++)
                foreach (var shape in new[] { Shape.Circle, Shape.Square, Shape.Triangle })
                    for (int cell = 0; cell < 9; cell++)
                    {
                        var d = new Description(size, colour, shape, cell / 3, cell % 3);
                        if (split == WorldSplit.Seen && d.NamesHeldOut) continue;
                        asked.Add(d);
                    }
        var decoded = new Dictionary<Description, Picture>();
        int s = config.ImageSize, n = 3 * s * s;
        for (int start = 0; start < asked.Count; start += 64)
        {
            var chunk = asked.Skip(start).Take(64).ToList();
            var scenes = chunk.Select(d => new Scene([new SceneObject(d.Colour, d.Shape, d.Size, d.Row, d.Column)])).ToList();
            float[] conditioning;
            using (no_grad())
            using (var c = heads.condition_encoder.forward(ConditionEncoder.Attributes(scenes, config.ConditionSlots)))
                conditioning = c.contiguous().data<float>().ToArray();
            var pixels = decoder.Run(conditioning, chunk.Count);
            for (int k = 0; k < chunk.Count; k++)
            {
                var rgb = SceneRenderer.FromPlanar(pixels.AsSpan(k * n, n));
                var read = SceneChecker.Check(rgb);
                if (read.Count != 1) continue;
                var shown = Description.Of(read[0]);
                if (split == WorldSplit.Seen && shown.NamesHeldOut) continue;
                decoded[chunk[k]] = new Picture(shown, rgb, FromDecoder: true);
            }
        }
        return new JudgePictures(new Random(seed), decoded, decoderShare);
    }

    /// <summary>A picture drawn for <paramref name="asked"/>: from the decoder (when it has a clear one, with the
    /// decoder share) or rendered with the world's jitter.</summary>
    public Picture Draw(Description asked)
    {
        if (_decoded.Count > 0 && _random.NextDouble() < _decoderShare && _decoded.TryGetValue(asked, out var p)) return p;
        int j = WorldSpec.MaxJitter;
        var scene = new Scene([new SceneObject(asked.Colour, asked.Shape, asked.Size, asked.Row, asked.Column)], _random.Next(-j, j + 1), _random.Next(-j, j + 1));
        return new Picture(asked, SceneRenderer.Render(scene), FromDecoder: false);
    }
}
