using System.Text.Json;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;
using Platform.Multimodal.Models;
using Platform.Multimodal.World;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Platform.Multimodal.Training;

/// <summary>
/// Stage 4: the language model (LlamaForCausalLM from scratch) with the visual projection, on the world's
/// conversations: captions, questions with the picture anywhere in the turn, two pictures in one turn, paraphrased
/// drawing requests ending in [IMG0]..[IMG7] (one or two pictures per answer), follow-ups on an earlier picture,
/// small talk and requests outside the world. GILL's mapper and decision losses are added on the [IMG] states.
/// </summary>
public sealed class LanguageModelStage(TrainOptions options, Action<string> log)
{
    public const int MaxPositions = 256;

    /// <summary>
    /// Every training batch, in order, as the LM reads it (its whole training stream). Each dialogue has its loss
    /// targets in <see cref="EncodedDialogue.Ids"/> and the ids the LM reads in <see cref="EncodedDialogue.Inputs"/>:
    /// with probability <see cref="TrainOptions.ColourNoise"/> a colour word in front of a shape word of an assistant
    /// turn is read as another colour (targets unchanged), chosen among the colours that form a seen pair with that
    /// shape, so no held-out pair is ever written into the LM's input. Without the noise the LM leans on the colour
    /// word to predict the shape and names a seen shape for a held-out picture; with it the shape must come from the
    /// visual tokens or the prompt.
    /// </summary>
    public static IEnumerable<List<EncodedDialogue>> Batches(TrainOptions options, DemoChat chat)
    {
        var generator = new SceneGenerator(options.Seed + 4);
        // A generator of its own: the mixed stream and the extra requests hold the conversations they hold without the extras.
        var extra = new SceneGenerator(options.Seed + 8);
        var noise = new Random(options.Seed + 7);
        for (int step = 0; step < options.LmSteps; step++)
        {
            // The mixed stream has few drawing requests per batch; the extra ones give the mapper loss (and through
            // it the LM's [IMG] states) a denser signal.
            var dialogues = Enumerable.Range(0, options.LmBatch).Select(_ => generator.NextConversation())
                .Concat(Enumerable.Range(0, options.LmExtraInstructions).Select(i => i % 2 == 0 ? generator.Instruction() : generator.Request()))
                .Concat(Enumerable.Range(0, options.LmExtraConversations).Select(i => Extra(extra, i)));
            yield return dialogues.Select(d => WithColourNoise(chat.Encode(CopyAugment(d, noise, options.CopyAugmentation).Turns), chat, noise, options.ColourNoise,
                options.ColourNoiseWithoutColours)).ToList();
        }
    }

    /// <summary>
    /// The <paramref name="index"/>-th extra conversation of a batch, for what the mixed stream trains too rarely: a
    /// request for an unknown thing (a held-out out-of-world noun was drawn as a shape), two pictures in one answer (the
    /// LM named the second object's position wrong) and a follow-up edit (it restated the edited position wrong).
    /// </summary>
    public static WorldDialogue Extra(SceneGenerator generator, int index) => (index % 3) switch
    {
        0 => generator.UnknownThing(),
        1 => generator.TwoPictures(),
        _ => generator.FollowUpEdit(),
    };

    /// <summary>The dialogue with input colour words before shape words of assistant turns swapped at probability
    /// <paramref name="probability"/> for a colour that forms a seen pair with that shape.</summary>
    public static EncodedDialogue WithColourNoise(EncodedDialogue d, DemoChat chat, Random random, double probability, bool withoutColours = false)
    {
        var inputs = (int[])d.Ids.Clone();
        var words = withoutColours ? CopyWords.Select(w => chat.Tokenizer.Encode(" " + w)).Where(ids => ids.Count == 1).Select(ids => ids[0]).ToArray() : [];
        for (int j = 0; j + 1 < inputs.Length; j++)
        {
            if (!d.Loss[j]) continue;
            int colour = Array.IndexOf(chat.ColourIds, d.Ids[j]), shape = Array.IndexOf(chat.ShapeIds, d.Ids[j + 1]);
            if (colour < 0 || shape < 0 || random.NextDouble() >= probability) continue;
            if (words.Length > 0)
            {
                inputs[j] = words[random.Next(words.Length)];
                continue;
            }
            var allowed = Enumerable.Range(0, Palette.Count).Where(c => !WorldSpec.IsHeldOut(c, (Shape)shape)).ToArray();
            inputs[j] = chat.ColourIds[allowed[random.Next(allowed.Length)]];
        }
        return d with { Inputs = inputs };
    }

    public LlamaForCausalLM Train(string folder, MultimodalHeads heads, DemoChat chat, CancellationToken ct)
    {
        int vocab = (chat.Tokenizer.VocabSize + 7) / 8 * 8;
        var eos = JsonDocument.Parse($"[{chat.ImEnd}, 0]").RootElement.Clone();
        var config = new LlamaConfig
        {
            VocabSize = vocab, HiddenSize = options.LmHidden, IntermediateSize = options.LmIntermediate,
            NumHiddenLayers = options.LmLayers, NumAttentionHeads = options.LmHeads, NumKeyValueHeads = options.LmHeads,
            MaxPositionEmbeddings = MaxPositions, RmsNormEps = 1e-5, RopeTheta = 10000, TieWordEmbeddings = true,
            EosTokenId = eos, TorchDtype = "float32",
        };
        File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJson());
        File.WriteAllText(Path.Combine(folder, "generation_config.json"), new GenerationConfig { EosTokenId = eos, MaxNewTokens = 96 }.ToJson());

        TrainingSchedule.SeedStage(options, "lm");
        var lm = new LlamaForCausalLM(config);
        // HF's initializer_range 0.02: with tied embeddings, N(0, 1) rows would make the first logits ~sqrt(hidden) wide.
        using (no_grad()) lm.model.embed_tokens.weight!.normal_(0, 0.02);
        // GILL trains the [IMG] embeddings and the mapper together with the LM loss (its eq. 3 and 4); here the whole LM
        // is trained, so the mapper and decision losses also shape the [IMG] hidden states they read. The mapper reads
        // the [IMG] rows only here, as in GILL (its row embedding stays zero); the words before the picture join its
        // memory in the GILL-heads stage, on the frozen LM. Measured on the design held-out pairs: with the words in
        // this stage's memory too, the joint loss shaped the words' states as it shapes the [IMG] states and the
        // mapper check ended at 26.2% of scenes right, against 91.8% with the words read by the heads stage only.
        var parameters = lm.parameters().Concat(heads.visual_projection.parameters())
            .Concat(heads.mapper.named_parameters().Where(p => p.name != "memory_pos").Select(p => p.parameter)).Concat(heads.decision.parameters()).ToList();
        using var opt = optim.AdamW(parameters, 2e-3, weight_decay: 0.01);
        int r = heads.Config.ImageTokens, slots = heads.Config.ConditionSlots, step = 0;
        lm.train();
        foreach (var batch in Batches(options, chat))
        {
            ct.ThrowIfCancellationRequested();
            using var guard = TrainingSchedule.StepWithoutGc();
            using var scope = NewDisposeScope();
            TrainingSchedule.SetLr(opt, TrainingSchedule.At(2e-3, step, options.LmSteps));
            var (embeds, labels, _) = LmBatch.Build(batch, lm, heads);
            long b = embeds.shape[0], t = embeds.shape[1];
            var output = lm.Forward(new LlamaInputs { InputsEmbeds = embeds, HiddenStatePositions = arange(t).view(1, t).expand(b, t) });
            var lmLoss = nn.functional.cross_entropy(output.Logits![.., ..^1].reshape(-1, vocab), labels[.., 1..].reshape(-1), ignore_index: -100);
            var loss = lmLoss;
            var pictures = MapperMemory.Pictures(batch);
            var targets = pictures.Select(p => batch[p.Row].ImgTargets[p.Index]).ToList();
            float mapLossValue = 0;
            if (targets.Count > 0)
            {
                var (hidden, slotEmbeds, _) = MapperMemory.Gather(output.HiddenStates!, embeds, pictures, context: 0, r);
                var imgHidden = MapperMemory.ImageRows(hidden, r);
                var decisionLoss = nn.functional.cross_entropy(heads.decision.forward(imgHidden[.., 0]), tensor(targets.Select(x => x.Retrieve ? 1L : 0L).ToArray()));
                loss = loss + 0.5 * decisionLoss;
                var gen = targets.Select((x, i) => (x, i)).Where(p => !p.x.Retrieve).ToList();
                if (gen.Count > 0)
                {
                    var genIndex = tensor(gen.Select(p => (long)p.i).ToArray());
                    var attributes = ConditionEncoder.Attributes(gen.Select(p => p.x.Scene).ToList(), slots);
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
            if (step % 100 == 0 || step == options.LmSteps - 1) log($"lm step {step}: loss {lmLoss.item<float>():F4}, mapper loss {mapLossValue:F4}, grad norm {gradNorm:F2}");
            step++;
        }
        lm.eval();
        GillHeadsStage.LogMapperAccuracy(log, "lm stage", lm, heads, chat, context: 0);
        lm.save_safetensors(Path.Combine(folder, "model.safetensors"));
        return lm;
    }

    /// <summary>Words a copy-augmented request may carry in place of a colour or shape word: world words that are
    /// neither, so an augmented request never names a colour/shape pair (held-out pairs stay out of training).</summary>
    private static readonly string[] CopyWords = ["small", "large", "top", "middle", "bottom", "left", "center", "right", "picture", "image", "photo", "here", "one", "two"];

    /// <summary>
    /// Copy augmentation: with probability <paramref name="probability"/>, each request for one picture that names an
    /// object's colour and shape has the colour or the shape word replaced, in the request and in the answer's
    /// restatement alike, by a random world word that is neither (see <see cref="CopyWords"/>); the answer then has
    /// no mapper target. The LM otherwise learns the restatement as "the usual colour for this shape" and restated
    /// held-out requests ("draw a small green circle") with a seen colour ("here is a small blue circle"); nonsense
    /// words can only be restated by copying them.
    /// </summary>
    public static WorldDialogue CopyAugment(WorldDialogue dialogue, Random random, double probability)
    {
        var turns = dialogue.Turns.ToList();
        for (int i = 1; i < turns.Count; i++)
        {
            if (turns[i].OutputScene is not { } scene || turns[i - 1].Role != "user" || random.NextDouble() >= probability) continue;
            var o = scene.Objects[random.Next(scene.Objects.Count)];
            var pair = $"{o.ColourName} {o.ShapeName}";
            var word = CopyWords[random.Next(CopyWords.Length)];
            if (!turns[i - 1].Text.Contains(pair, StringComparison.Ordinal)) continue;
            var changed = random.Next(2) == 0 ? $"{word} {o.ShapeName}" : $"{o.ColourName} {word}";
            turns[i - 1] = turns[i - 1] with { Text = turns[i - 1].Text.Replace(pair, changed, StringComparison.Ordinal) };
            turns[i] = turns[i] with { Text = turns[i].Text.Replace(pair, changed, StringComparison.Ordinal), OutputScene = null };
        }
        return dialogue with { Turns = turns };
    }
}
