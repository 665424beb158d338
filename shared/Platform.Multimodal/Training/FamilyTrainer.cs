using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;
using Platform.Inference.Tokenization;
using Platform.Multimodal.Models;
using Platform.Multimodal.Onnx;
using Platform.Multimodal.World;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Platform.Multimodal.Training;

/// <summary>
/// Trains the whole family from scratch, in order: decoder + its condition encoder (pixels + per-object masks),
/// visual encoder (classifies each object's attributes in a jittered image), tokenizer, language model with the visual
/// projection (captions, questions, instructions ending in [IMG0]..[IMG7], dialogues), then GILL's mapper,
/// retrieval head and decision classifier on the frozen LM's [IMG] states. Writes one model folder.
/// Only <see cref="WorldSplit.Seen"/> scenes are used: held-out colour/shape pairs never reach any model.
/// </summary>
public sealed class FamilyTrainer(TrainOptions options, Action<string> log)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    private void Log(string message) => log($"[{_clock.Elapsed.TotalSeconds,6:F1}s] {message}");

    public void Run(CancellationToken cancellationToken = default)
    {
        if (options.Threads > 0) set_num_threads(options.Threads);
        manual_seed(options.Seed);
        var folder = options.OutputFolder;
        Directory.CreateDirectory(folder);
        var config = new MultimodalConfig { LmHiddenSize = options.LmHidden, MapperDim = Math.Max(32, options.LmHidden), MapperHeads = 4 };
        using var heads = new MultimodalHeads(config);
        using var decoder = new ImageDecoder(config);

        TrainDecoder(heads.condition_encoder, decoder, cancellationToken);
        // From here on the condition encoder is the fixed "text encoder" whose tables turn predicted attribute
        // distributions into conditioning (ConditionEncoder.FromLogits); gradients pass through it, updates do not.
        foreach (var p in heads.condition_encoder.parameters()) p.requires_grad = false;
        TrainVisualEncoder(heads, cancellationToken);
        var chat = BuildTokenizer(folder, config);
        using var lm = TrainLanguageModel(folder, heads, chat, cancellationToken);
        TrainGillHeads(lm, heads, chat, cancellationToken);

        File.WriteAllText(Path.Combine(folder, ModelFiles.Config), config.ToJson());
        heads.save_safetensors(Path.Combine(folder, ModelFiles.Heads));
        decoder.save_safetensors(Path.Combine(folder, ModelFiles.DecoderWeights));
        DecoderOnnxExporter.Export(decoder, Path.Combine(folder, ModelFiles.DecoderOnnx));
        WriteGallery(folder, heads);
        Log($"done: {folder}");
    }

    /// <summary>Trains only the decoder and its condition encoder and writes decoder.safetensors/.onnx (for experiments).</summary>
    public void RunDecoderOnly(CancellationToken cancellationToken = default)
    {
        if (options.Threads > 0) set_num_threads(options.Threads);
        manual_seed(options.Seed);
        Directory.CreateDirectory(options.OutputFolder);
        var config = new MultimodalConfig { LmHiddenSize = options.LmHidden };
        using var encoder = new ConditionEncoder(config);
        using var decoder = new ImageDecoder(config);
        TrainDecoder(encoder, decoder, cancellationToken);
        decoder.save_safetensors(Path.Combine(options.OutputFolder, ModelFiles.DecoderWeights));
        DecoderOnnxExporter.Export(decoder, Path.Combine(options.OutputFolder, ModelFiles.DecoderOnnx));
    }

    private static Tensor Masks(IReadOnlyList<Scene> scenes, int slots)
    {
        int s = WorldSpec.ImageSize;
        var data = new float[scenes.Count * slots * s * s];
        for (int i = 0; i < scenes.Count; i++)
            for (int q = 0; q < Math.Min(slots, scenes[i].Objects.Count); q++)
            {
                var o = scenes[i].Objects[q];
                int cx = WorldSpec.CellCentres[o.Column] + scenes[i].JitterX, cy = WorldSpec.CellCentres[o.Row] + scenes[i].JitterY, h = WorldSpec.HalfExtent(o.Size);
                for (int y = Math.Max(0, cy - h); y <= Math.Min(s - 1, cy + h); y++)
                    for (int x = Math.Max(0, cx - h); x <= Math.Min(s - 1, cx + h); x++)
                        if (SceneRenderer.Inside(o.Shape, x - cx, y - cy, h)) data[((i * slots + q) * s + y) * s + x] = 1f;
            }
        return tensor(data, [scenes.Count, slots, s, s]);
    }

    /// <summary>Linear warm-up then cosine decay to 10%.</summary>
    private static double Schedule(double peak, int step, int total)
    {
        int warm = Math.Max(1, Math.Min(50, total / 10));
        if (step < warm) return peak * (step + 1) / warm;
        double p = (step - warm) / (double)Math.Max(1, total - warm);
        return peak * (0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * p)));
    }

    private static void SetLr(optim.Optimizer opt, double lr)
    {
        foreach (var g in opt.ParamGroups) g.LearningRate = lr;
    }

    private void TrainDecoder(ConditionEncoder encoder, ImageDecoder decoder, CancellationToken ct)
    {
        var generator = new SceneGenerator(options.Seed + 1);
        var parameters = encoder.parameters().Concat(decoder.parameters());
        using var opt = optim.Adam(parameters, 1e-2);
        int slots = decoder.Config.ConditionSlots;
        for (int step = 0; step < options.DecoderSteps; step++)
        {
            ct.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            SetLr(opt, Schedule(1e-2, step, options.DecoderSteps));
            var scenes = Enumerable.Range(0, options.ImageBatch).Select(_ => generator.NextScene(jitter: false)).ToList();
            // Gaussian noise on the conditioning: the decoder later reads the mapper's estimate of it (a regressing mapper had MSE ~0.15
            // per dimension), and a decoder trained only on exact points flipped shapes and sizes under that error.
            var conditioning = encoder.forward(ConditionEncoder.Attributes(scenes, slots));
            var (image, logits) = decoder.Forward(conditioning + 0.4 * randn_like(conditioning));
            var pixelLoss = nn.functional.mse_loss(image, LmBatch.RenderImages(scenes));
            var maskLoss = nn.functional.binary_cross_entropy_with_logits(logits, Masks(scenes, slots));
            var loss = pixelLoss * 10 + maskLoss;
            opt.zero_grad();
            loss.backward();
            opt.step();
            if (step % 100 == 0 || step == options.DecoderSteps - 1)
                Log($"decoder step {step}: pixel mse {pixelLoss.item<float>():F5}, mask bce {maskLoss.item<float>():F4}");
        }
        Log($"decoder check (exact scenes by the pixel checker): seen {DecoderExactRate(encoder, decoder, WorldSplit.Seen):P1}, held-out {DecoderExactRate(encoder, decoder, WorldSplit.HeldOut):P1}");
    }

    /// <summary>Fraction of scenes the hand-written checker reads back exactly from the decoder's image of their true conditioning.</summary>
    public static double DecoderExactRate(ConditionEncoder encoder, ImageDecoder decoder, WorldSplit split, int count = 200)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var generator = new SceneGenerator(4242);
        var scenes = Enumerable.Range(0, count).Select(_ => generator.NextScene(split, jitter: false)).ToList();
        var images = decoder.forward(encoder.forward(ConditionEncoder.Attributes(scenes, decoder.Config.ConditionSlots)));
        int s = WorldSpec.ImageSize, hits = 0;
        var data = images.contiguous().data<float>().ToArray();
        for (int i = 0; i < count; i++)
        {
            var rgb = SceneRenderer.FromPlanar(data.AsSpan(i * 3 * s * s, 3 * s * s));
            if (SceneChecker.Check(rgb).SequenceEqual(scenes[i].Objects)) hits++;
        }
        return hits / (double)count;
    }

    private void TrainVisualEncoder(MultimodalHeads heads, CancellationToken ct)
    {
        var generator = new SceneGenerator(options.Seed + 2);
        using var opt = optim.Adam(heads.visual_encoder.parameters(), 2e-3);
        int slots = heads.Config.ConditionSlots;
        for (int step = 0; step < options.VisualSteps; step++)
        {
            ct.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            SetLr(opt, Schedule(2e-3, step, options.VisualSteps));
            var scenes = Enumerable.Range(0, options.ImageBatch).Select(_ => generator.NextScene()).ToList();
            var loss = ConditionEncoder.AttributeLoss(heads.visual_encoder.forward(LmBatch.RenderImages(scenes)), ConditionEncoder.Attributes(scenes, slots));
            opt.zero_grad();
            loss.backward();
            opt.step();
            if (step % 100 == 0 || step == options.VisualSteps - 1) Log($"visual encoder step {step}: attribute cross entropy {loss.item<float>():F5}");
        }
        foreach (var split in new[] { WorldSplit.Seen, WorldSplit.HeldOut })
        {
            var (exact, perAttribute) = VisualAccuracy(heads.visual_encoder, split);
            Log($"visual encoder check ({split}): all attributes of all slots {exact:P1}; colour/shape/size/row/column {string.Join(" / ", perAttribute.Select(a => a.ToString("P1")))}");
        }
    }

    /// <summary>On jittered scenes: the fraction whose attributes (all slots) the visual encoder predicts exactly, and
    /// per attribute the fraction of slots it gets right.</summary>
    public static (double Exact, double[] PerAttribute) VisualAccuracy(VisualEncoder encoder, WorldSplit split, int count = 300)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var generator = new SceneGenerator(4343);
        var scenes = Enumerable.Range(0, count).Select(_ => generator.NextScene(split)).ToList();
        var predicted = ConditionEncoder.Predict(encoder.forward(LmBatch.RenderImages(scenes)));
        var hits = predicted.eq(ConditionEncoder.Attributes(scenes, (int)predicted.shape[1]));
        double exact = hits.flatten(1).all(1).to_type(ScalarType.Float32).mean().item<float>();
        var perAttribute = hits.to_type(ScalarType.Float32).mean([0, 1]).data<float>().Select(v => (double)v).ToArray();
        return (exact, perAttribute);
    }

    /// <summary>The mapper's loss: cross entropy per attribute plus a small MSE of the resulting conditioning to the
    /// target (it weighs a wrong value by how far its embedding is from the right one in the decoder's space).</summary>
    private static Tensor MapperLoss(MultimodalHeads heads, Tensor logits, Tensor attributes, Tensor targetConditioning) =>
        ConditionEncoder.AttributeLoss(logits, attributes) + 0.1 * nn.functional.mse_loss(heads.condition_encoder.FromLogits(logits), targetConditioning);

    private DemoChat BuildTokenizer(string folder, MultimodalConfig config)
    {
        var generator = new SceneGenerator(options.Seed + 3);
        var corpus = new List<string>();
        for (int i = 0; i < 3000; i++)
            foreach (var turn in generator.Next().Turns)
                corpus.AddRange(turn.Text.Split(WorldText.ImagePlaceholder));
        // The held-out pairs never occur in the corpus, but their words do: the vocabulary is the same either way.
        corpus.Add("user assistant system\n");
        int size = DemoTokenizerWriter.Write(folder, corpus, WorldText.ImageTokens);
        var tokenizerConfig = new JsonObject
        {
            ["add_bos_token"] = false,
            ["bos_token"] = null,
            ["eos_token"] = "<|im_end|>",
            ["model_max_length"] = 256,
            ["chat_template"] = TinyModelFactory.DemoChatTemplate,
        };
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), tokenizerConfig.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        var tokenizer = TokenizerLoader.Load(folder);
        Log($"tokenizer: {size} tokens");
        return new DemoChat(tokenizer, config.VisualTokens);
    }

    private LlamaForCausalLM TrainLanguageModel(string folder, MultimodalHeads heads, DemoChat chat, CancellationToken ct)
    {
        int vocab = (chat.Tokenizer.VocabSize + 7) / 8 * 8;
        var eos = JsonDocument.Parse($"[{chat.ImEnd}, 0]").RootElement.Clone();
        var config = new LlamaConfig
        {
            VocabSize = vocab, HiddenSize = options.LmHidden, IntermediateSize = options.LmIntermediate,
            NumHiddenLayers = options.LmLayers, NumAttentionHeads = options.LmHeads, NumKeyValueHeads = options.LmHeads,
            MaxPositionEmbeddings = 256, RmsNormEps = 1e-5, RopeTheta = 10000, TieWordEmbeddings = true,
            EosTokenId = eos, TorchDtype = "float32",
        };
        File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJson());
        File.WriteAllText(Path.Combine(folder, "generation_config.json"), new GenerationConfig { EosTokenId = eos, MaxNewTokens = 64 }.ToJson());

        var lm = new LlamaForCausalLM(config);
        // HF's initializer_range 0.02: with tied embeddings, N(0, 1) rows would make the first logits ~sqrt(hidden) wide.
        using (no_grad()) lm.model.embed_tokens.weight!.normal_(0, 0.02);
        var generator = new SceneGenerator(options.Seed + 4);
        var noise = new Random(options.Seed + 7);
        // GILL trains the [IMG] embeddings and the mapper together with the LM loss (its eq. 3 and 4); here the whole LM
        // is trained, so the mapper and decision losses also shape the [IMG] hidden states they read.
        var parameters = lm.parameters().Concat(heads.visual_projection.parameters()).Concat(heads.mapper.parameters()).Concat(heads.decision.parameters()).ToList();
        using var opt = optim.AdamW(parameters, 2e-3, weight_decay: 0.01);
        int r = heads.Config.ImageTokens, slots = heads.Config.ConditionSlots;
        lm.train();
        for (int step = 0; step < options.LmSteps; step++)
        {
            ct.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            SetLr(opt, Schedule(2e-3, step, options.LmSteps));
            // The mixed stream has ~4 drawing requests per 16 conversations; the extra ones give the mapper loss (and
            // through it the LM's [IMG] states) a denser signal.
            var dialogues = Enumerable.Range(0, options.LmBatch).Select(_ => generator.Next())
                .Concat(Enumerable.Range(0, options.LmExtraInstructions).Select(_ => generator.Instruction()));
            var batch = dialogues.Select(d => chat.Encode(CopyAugment(d, noise, options.CopyAugmentation).Turns)).ToList();
            var (embeds, labels, _) = LmBatch.Build(batch, lm, heads, chat, noise, 0.5);
            long b = embeds.shape[0], t = embeds.shape[1];
            var output = lm.Forward(new LlamaInputs { InputsEmbeds = embeds, HiddenStatePositions = arange(t).view(1, t).expand(b, t) });
            var lmLoss = nn.functional.cross_entropy(output.Logits![.., ..^1].reshape(-1, vocab), labels[.., 1..].reshape(-1), ignore_index: -100);
            var loss = lmLoss;
            var rows = new List<long>();
            var targets = new List<(Scene Scene, bool Retrieve)>();
            for (int i = 0; i < batch.Count; i++)
                for (int k = 0; k < batch[i].ImgTokenStarts.Count; k++)
                {
                    for (int j = 0; j < r; j++) rows.Add(i * t + batch[i].ImgTokenStarts[k] + j);
                    targets.Add(batch[i].ImgTargets[k]);
                }
            float mapLossValue = 0;
            if (targets.Count > 0)
            {
                var index = tensor(rows.ToArray());
                var hidden = output.HiddenStates!.reshape(b * t, -1).index_select(0, index).reshape(targets.Count, r, -1);
                var slotEmbeds = embeds.reshape(b * t, -1).index_select(0, index).reshape(targets.Count, r, -1);
                var decisionLoss = nn.functional.cross_entropy(heads.decision.forward(hidden[.., 0]), tensor(targets.Select(x => x.Retrieve ? 1L : 0L).ToArray()));
                loss = loss + 0.5 * decisionLoss;
                var gen = targets.Select((x, i) => (x, i)).Where(p => !p.x.Retrieve).ToList();
                if (gen.Count > 0)
                {
                    var genIndex = tensor(gen.Select(p => (long)p.i).ToArray());
                    var attributes = ConditionEncoder.Attributes(gen.Select(p => p.x.Scene).ToList(), slots);
                    Tensor target;
                    using (no_grad()) target = heads.condition_encoder.forward(attributes);
                    // Cross entropy only, scaled down: at weight 1 (plus the conditioning MSE) the LM never learned to
                    // name colours in 800 steps (caption colour 22%, LM loss 0.26), probably because this gradient
                    // dominated the clipped update; at 0.2 the LM loss reached 0.005 (measured together with the extra
                    // drawing requests and copy augmentation, see the README's Figures).
                    var mapLoss = ConditionEncoder.AttributeLoss(heads.mapper.forward(hidden.index_select(0, genIndex), slotEmbeds.index_select(0, genIndex)), attributes);
                    loss = loss + options.LmMapperWeight * mapLoss;
                    mapLossValue = mapLoss.item<float>();
                }
            }
            opt.zero_grad();
            loss.backward();
            double gradNorm = nn.utils.clip_grad_norm_(parameters, 1.0);
            opt.step();
            if (step % 100 == 0 || step == options.LmSteps - 1) Log($"lm step {step}: loss {lmLoss.item<float>():F4}, mapper loss {mapLossValue:F4}, grad norm {gradNorm:F2}");
        }
        lm.eval();
        LogMapperAccuracy("lm stage", lm, heads, chat);
        lm.save_safetensors(Path.Combine(folder, "model.safetensors"));
        return lm;
    }

    /// <summary>Words a copy-augmented request may carry in place of a colour or shape word: world words that are
    /// neither, so an augmented request never names a colour/shape pair (held-out pairs stay out of training).</summary>
    private static readonly string[] CopyWords = ["small", "large", "top", "middle", "bottom", "left", "center", "right", "picture", "image", "photo", "here", "one", "two"];

    /// <summary>
    /// Copy augmentation: with probability <paramref name="probability"/>, each request for a picture has one object's
    /// colour or shape word replaced, in the request and in the answer's restatement alike, by a random world word
    /// that is neither (see <see cref="CopyWords"/>); the answer then has no mapper target. The LM otherwise learns the
    /// restatement as "the usual colour for this shape" and restated held-out requests ("draw a small green circle")
    /// with a seen colour ("here is a small blue circle"); nonsense words can only be restated by copying them.
    /// </summary>
    public static WorldDialogue CopyAugment(WorldDialogue dialogue, Random random, double probability)
    {
        var turns = dialogue.Turns.ToList();
        for (int i = 1; i < turns.Count; i++)
        {
            if (turns[i].OutputScene is not { } scene || turns[i - 1].Role != "user" || random.NextDouble() >= probability) continue;
            var o = scene.Objects[random.Next(scene.Objects.Count)];
            var word = CopyWords[random.Next(CopyWords.Length)];
            var changed = random.Next(2) == 0
                ? $"a {o.SizeName} {word} {o.ShapeName} at the {o.PositionName}"
                : $"a {o.SizeName} {o.ColourName} {word} at the {o.PositionName}";
            turns[i - 1] = turns[i - 1] with { Text = turns[i - 1].Text.Replace(o.Describe(), changed, StringComparison.Ordinal) };
            turns[i] = turns[i] with { Text = turns[i].Text.Replace(o.Describe(), changed, StringComparison.Ordinal), OutputScene = null };
        }
        return dialogue with { Turns = turns };
    }

    /// <summary>Teacher-forced [IMG] states of conversations that end in a picture (the LM is frozen, as in GILL).</summary>
    public static (Tensor Hidden, Tensor Embeds) ImageSlotStates(LlamaForCausalLM lm, MultimodalHeads heads, IReadOnlyList<EncodedDialogue> batch)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (embeds, _, ids) = LmBatch.Build(batch, lm, heads);
        int r = heads.Config.ImageTokens;
        var positions = new long[batch.Count * r];
        for (int i = 0; i < batch.Count; i++)
            for (int k = 0; k < r; k++) positions[i * r + k] = batch[i].ImgTokenStarts[^1] + k;
        var pos = tensor(positions, [batch.Count, r]);
        var output = lm.Forward(new LlamaInputs { InputsEmbeds = embeds, HiddenStatePositions = pos, SkipLogits = true });
        var slotEmbeds = embeds.gather(1, pos.unsqueeze(-1).expand(-1, -1, embeds.shape[2]));
        return (output.HiddenStates!.MoveToOuterDisposeScope(), slotEmbeds.MoveToOuterDisposeScope());
    }

    /// <summary>The mapper's attribute predictions from teacher-forced [IMG] states of drawing instructions (the LM
    /// restates the request correctly here, so this isolates the [IMG] states + mapper): the fraction of scenes
    /// with every attribute of every slot right, and per attribute the fraction of slots right. A diagnostic only.</summary>
    public static (double Exact, double[] PerAttribute) MapperAccuracy(LlamaForCausalLM lm, MultimodalHeads heads, DemoChat chat, WorldSplit split, int count = 256)
    {
        var generator = new SceneGenerator(4444);
        var dialogues = Enumerable.Range(0, count).Select(_ => generator.Instruction(split)).ToList();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (hidden, embeds) = ImageSlotStates(lm, heads, dialogues.Select(d => chat.Encode(d.Turns)).ToList());
        var predicted = ConditionEncoder.Predict(heads.mapper.forward(hidden, embeds));
        var hits = predicted.eq(ConditionEncoder.Attributes(dialogues.Select(d => d.Turns[^1].OutputScene!).ToList(), heads.Config.ConditionSlots));
        double exact = hits.flatten(1).all(1).to_type(ScalarType.Float32).mean().item<float>();
        return (exact, hits.to_type(ScalarType.Float32).mean([0, 1]).data<float>().Select(v => (double)v).ToArray());
    }

    private void LogMapperAccuracy(string stage, LlamaForCausalLM lm, MultimodalHeads heads, DemoChat chat)
    {
        foreach (var split in new[] { WorldSplit.Seen, WorldSplit.HeldOut })
        {
            var (exact, perAttribute) = MapperAccuracy(lm, heads, chat, split);
            Log($"mapper check after {stage} ({split}): all attributes {exact:P1}; colour/shape/size/row/column {string.Join(" / ", perAttribute.Select(a => a.ToString("P1")))}");
        }
    }

    private void TrainGillHeads(LlamaForCausalLM lm, MultimodalHeads heads, DemoChat chat, CancellationToken ct)
    {
        var generator = new SceneGenerator(options.Seed + 5);
        int n = options.HeadExamples, slots = heads.Config.ConditionSlots;
        var dialogues = Enumerable.Range(0, n).Select(i => i % 2 == 0 ? generator.Instruction() : generator.Retrieval()).ToList();
        var hiddenParts = new List<Tensor>();
        var embedParts = new List<Tensor>();
        for (int i = 0; i < n; i += 64)
        {
            var chunk = dialogues.Skip(i).Take(64).Select(d => chat.Encode(d.Turns)).ToList();
            var (h, e) = ImageSlotStates(lm, heads, chunk);
            hiddenParts.Add(h);
            embedParts.Add(e);
        }
        using var hidden = cat(hiddenParts, 0);
        using var slotEmbeds = cat(embedParts, 0);
        hiddenParts.ForEach(t => t.Dispose());
        embedParts.ForEach(t => t.Dispose());
        var scenes = dialogues.Select(d => d.Turns[^1].OutputScene!).ToList();
        using var isRetrieve = tensor(dialogues.Select(d => d.Turns[^1].Retrieve ? 1L : 0L).ToArray());
        Tensor targets, imageLatents;
        var attributes = ConditionEncoder.Attributes(scenes, slots);
        using (no_grad())
        {
            targets = heads.condition_encoder.forward(attributes);
            imageLatents = heads.ImageLatent(LmBatch.RenderImages(scenes));
        }
        Log($"gill heads: {n} [IMG] states collected");

        var parameters = heads.mapper.parameters().Concat(heads.retrieval.parameters()).Concat(heads.decision.parameters());
        using var opt = optim.AdamW(parameters, 1e-3, weight_decay: 0.01);
        var random = new Random(options.Seed + 6);
        int batchSize = Math.Min(64, n);
        for (int step = 0; step < options.HeadSteps; step++)
        {
            ct.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            SetLr(opt, Schedule(1e-3, step, options.HeadSteps));
            var index = tensor(Enumerable.Range(0, batchSize).Select(_ => (long)random.Next(n)).ToArray());
            var h = hidden.index_select(0, index);
            var e = slotEmbeds.index_select(0, index);
            var gen = isRetrieve.index_select(0, index).eq(0);
            // GILL trains the mapper on generation examples only (there: MSE to the decoder's text-encoder output).
            var genIndex = index.masked_select(gen);
            var mapLoss = genIndex.numel() == 0 ? zeros(1).sum() : MapperLoss(heads, heads.mapper.forward(hidden.index_select(0, genIndex), slotEmbeds.index_select(0, genIndex)),
                attributes.index_select(0, genIndex), targets.index_select(0, genIndex));
            var text = heads.retrieval.EmbedText(h);
            var image = heads.retrieval.EmbedImage(imageLatents.index_select(0, index));
            var logits = heads.retrieval.logit_scale.exp().clamp_max(100) * text.matmul(image.t());
            var labels = arange(batchSize);
            var retrievalLoss = (nn.functional.cross_entropy(logits, labels) + nn.functional.cross_entropy(logits.t(), labels)) / 2;
            var decisionLoss = nn.functional.cross_entropy(heads.decision.forward(h[.., 0]), isRetrieve.index_select(0, index));
            var loss = mapLoss + retrievalLoss + decisionLoss;
            opt.zero_grad();
            loss.backward();
            opt.step();
            if (step % 100 == 0 || step == options.HeadSteps - 1)
                Log($"gill heads step {step}: mapper loss {mapLoss.item<float>():F5}, retrieval {retrievalLoss.item<float>():F4}, decision {decisionLoss.item<float>():F4}");
        }
        targets.Dispose();
        imageLatents.Dispose();
        attributes.Dispose();
        LogMapperAccuracy("gill heads stage", lm, heads, chat);
    }

    /// <summary>The retrieval gallery: every single-object scene of the world (held-out pairs included: retrieving
    /// one is a composition test, since no retrieval prompt for it was trained), images and their embeddings.</summary>
    private void WriteGallery(string folder, MultimodalHeads heads)
    {
        var scenes = Gallery.Scenes();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var images = LmBatch.RenderImages(scenes);
        var embeddings = heads.retrieval.EmbedImage(heads.ImageLatent(images));
        Gallery.Save(folder, scenes, embeddings);
        Log($"gallery: {scenes.Count} images");
    }
}
