using System.Diagnostics;
using Platform.Inference.Loading;
using Platform.Multimodal.Serving;
using Platform.Multimodal.Training;
using Platform.Multimodal.World;

namespace Platform.Multimodal.Evaluation;

/// <summary>
/// Measures a trained folder on fresh scenes from a seed no training stage uses, separately for seen colour/shape
/// pairs and the held-out ones. Captions are parsed word by word; generated images are judged by the hand-written
/// <see cref="SceneChecker"/>; retrieval is recall@1 over the gallery; the decision is scored on drawing prompts
/// (generate) and picture requests (retrieve). On the held-out split only the held-out objects are scored.
/// </summary>
public sealed class FamilyEvaluator(string folder, int samples, int threads, Action<string> log)
{
    public const int EvalSeed = 987_654;

    public EvalReport Run(CancellationToken cancellationToken = default)
    {
        if (threads > 0) TorchSharp.torch.set_num_threads(threads);
        var clock = Stopwatch.StartNew();
        using var loaded = ModelLoader.Load(folder);
        using var models = MultimodalModels.Load(folder);
        var chat = new DemoChat(loaded.Tokenizer, models.Config.VisualTokens);
        var decoder = new GreedyDecoder(loaded.Model, models.Heads, chat);
        var seen = Score(WorldSplit.Seen, decoder, models, cancellationToken);
        log($"seen split scored ({clock.Elapsed.TotalSeconds:F0} s)");
        var heldOut = Score(WorldSplit.HeldOut, decoder, models, cancellationToken);
        return new EvalReport(folder, seen, heldOut, clock.Elapsed.TotalSeconds);
    }

    private sealed class Tally
    {
        private int _hit, _total;
        public void Add(bool hit) { _total++; if (hit) _hit++; }
        public double Value => _total == 0 ? 0 : _hit / (double)_total;
    }

    private SplitScores Score(WorldSplit split, GreedyDecoder decoder, MultimodalModels models, CancellationToken ct)
    {
        var generator = new SceneGenerator(EvalSeed + (int)split);
        bool Scored(SceneObject o) => split == WorldSplit.Seen || WorldSpec.IsHeldOut(o.Colour, o.Shape);
        Tally cColour = new(), cShape = new(), cPosition = new(), cSize = new(), cExact = new();
        Tally gColour = new(), gShape = new(), gPosition = new(), gSize = new(), gExact = new();
        Tally recall = new(), decision = new();
        for (int i = 0; i < samples; i++)
        {
            ct.ThrowIfCancellationRequested();
            // Caption: the image goes in as visual tokens, the answer is parsed back into attributes.
            var scene = generator.NextScene(split);
            var answer = decoder.Answer([new WorldTurn("user", $"{WorldText.ImagePlaceholder} describe the image.", [scene])]);
            var parsed = WorldText.ParseCaption(answer.Text);
            for (int k = 0; k < scene.Objects.Count; k++)
            {
                var o = scene.Objects[k];
                if (!Scored(o)) continue;
                var p = k < parsed.Count ? parsed[k] : default;
                cColour.Add(p.Colour == o.ColourName);
                cShape.Add(p.Shape == o.ShapeName);
                cPosition.Add(p.Position == o.PositionName);
                cSize.Add(p.Size == o.SizeName);
                cExact.Add(p.Colour == o.ColourName && p.Shape == o.ShapeName && p.Position == o.PositionName && p.Size == o.SizeName && parsed.Count == scene.Objects.Count);
            }

            // Generation: "draw ..." -> [IMG] slot -> mapper -> ONNX decoder -> checker.
            var target = generator.NextScene(split, jitter: false);
            var draw = decoder.Answer([new WorldTurn("user", $"draw {target.Caption()}.", [])]);
            IReadOnlyList<SceneObject> found = [];
            if (draw.Slot is { } slot)
            {
                var produced = models.ProduceImage(slot, ImageDecision.Generate);
                decision.Add(models.ProduceImage(slot).Decision == ImageDecision.Generate);
                found = SceneChecker.Check(produced.Rgb);
            }
            else decision.Add(false);
            foreach (var o in target.Objects)
            {
                if (!Scored(o)) continue;
                // Match the checker's object by colour when it found one of that colour, else by cell.
                var f = found.FirstOrDefault(x => x.Colour == o.Colour) ?? found.FirstOrDefault(x => x.Cell == o.Cell);
                gColour.Add(f is not null && f.Colour == o.Colour);
                gShape.Add(f is not null && f.Shape == o.Shape);
                gPosition.Add(f is not null && f.Cell == o.Cell);
                gSize.Add(f is not null && f.Size == o.Size);
                gExact.Add(f == o && found.Count == target.Objects.Count);
            }

            // Retrieval: "show me the picture of ..." -> nearest gallery image must be exactly that scene.
            var wanted = generator.NextScene(split, jitter: false, objectCount: 1);
            var fetch = decoder.Answer([new WorldTurn("user", $"show me the picture of {wanted.Caption()}.", [])]);
            if (fetch.Slot is { } fetchSlot)
            {
                var produced = models.ProduceImage(fetchSlot, ImageDecision.Retrieve);
                recall.Add(produced.GalleryCaption == wanted.Caption());
                decision.Add(models.ProduceImage(fetchSlot).Decision == ImageDecision.Retrieve);
            }
            else
            {
                recall.Add(false);
                decision.Add(false);
            }
        }
        return new SplitScores
        {
            CaptionColour = cColour.Value, CaptionShape = cShape.Value, CaptionPosition = cPosition.Value, CaptionSize = cSize.Value, CaptionExact = cExact.Value,
            GenerationColour = gColour.Value, GenerationShape = gShape.Value, GenerationPosition = gPosition.Value, GenerationSize = gSize.Value, GenerationExact = gExact.Value,
            RetrievalRecallAt1 = recall.Value, DecisionAccuracy = decision.Value, Samples = samples,
        };
    }
}
