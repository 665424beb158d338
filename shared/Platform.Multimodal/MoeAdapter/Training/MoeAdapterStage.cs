using Platform.Inference.Loading;
using Platform.Inference.Models.Llama;
using Platform.Inference.Models.Moe;
using Platform.Inference.Tokenization;
using Platform.Multimodal.Models.Vq;
using Platform.Multimodal.Training;
using Platform.Multimodal.World;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Platform.Multimodal.MoeAdapter.Training;

/// <summary>
/// The image adapter of the family (Dutt et al. 2025): on the frozen text-only MoE base of the folder, new
/// embedding and output-head rows for begin/end-of-image and the VQ codes, and partial LoRA on every expert that
/// acts only at image-token positions (<see cref="ImageTokenAdapter"/>). Trained on seen drawing requests in seen
/// phrasings (<see cref="Requests"/>), loss on the image run, its end token and the stop after it. Writes
/// image_adapter_config.json and image_adapter.safetensors beside the base.
/// </summary>
public sealed class MoeAdapterStage(MoeTrainOptions options, Action<string> log)
{
    public const string Name = "adapter";
    /// <summary>Seed of the validation requests (no training stream uses it).</summary>
    public const int ValidationSeed = 777_101;

    /// <summary>Drawing requests of the seen split in seen phrasings, in order.</summary>
    public static IEnumerable<WorldDialogue> Requests(int seed)
    {
        var generator = new SceneGenerator(seed);
        while (true) yield return generator.Request(WorldSplit.Seen, PhrasingSplit.Seen);
    }

    /// <summary>Every training batch, in order (the stage's whole training stream).</summary>
    public static IEnumerable<IReadOnlyList<WorldDialogue>> Batches(MoeTrainOptions options)
    {
        using var stream = Requests(options.Seed + 41).GetEnumerator();
        for (int step = 0; step < options.AdapterSteps; step++)
        {
            var batch = new List<WorldDialogue>(options.AdapterBatch);
            for (int i = 0; i < options.AdapterBatch && stream.MoveNext(); i++) batch.Add(stream.Current);
            yield return batch;
        }
    }

    /// <summary>The frozen base LM of a folder (config.json + model.safetensors), in eval mode.</summary>
    public static LlamaForCausalLM LoadBase(string folder)
    {
        var path = Path.Combine(folder, "model.safetensors");
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: the MoE base is missing (train the base stage first)", path);
        var lm = new LlamaForCausalLM(ModelLoader.ReadConfig(folder));
        if (lm.Config is not MoeConfig) { lm.Dispose(); throw new InvalidDataException($"{folder}: the image adapter needs a Mixture-of-Experts base"); }
        lm.load_safetensors(path, strict: true);
        lm.eval();
        return lm;
    }

    /// <summary>The initial new rows (begin, end, codes) of <paramref name="init"/>; the same for the same seed.</summary>
    public static float[,] InitialRows(ImageTokenInit init, LlamaForCausalLM lm, TextTokenizer tokenizer, VqTokenizer vq, ImageVocabulary vocabulary, int seed,
        Action<string>? log = null, CancellationToken ct = default)
    {
        var excluded = WorldText.ImageTokens.Select(x => tokenizer.TokenToId(x) ?? -1).ToHashSet();
        var text = ImageTokenInitialisation.TextEmbeddings(lm, tokenizer.VocabSize, excluded);
        var codebook = ImageTokenInitialisation.ToArray(vq.codebook.embedding);
        return ImageTokenInitialisation.Rows(init, vocabulary, codebook, text, seed, log, ct);
    }

    /// <summary>The adapter exactly as training starts it (the stage's seed, initialisation and sizes), attached.</summary>
    public static ImageTokenAdapter Initial(MoeTrainOptions options, LlamaForCausalLM lm, TextTokenizer tokenizer, VqTokenizer vq, Action<string>? log = null, CancellationToken ct = default)
    {
        var vocabulary = new ImageVocabulary(lm.Config.VocabSize, vq.Config.CodebookSize, vq.Config.CodesPerImage);
        var rows = InitialRows(options.AdapterInit, lm, tokenizer, vq, vocabulary, options.Seed, log, ct);
        MoeFamilyTrainer.SeedStage(options, Name);
        var adapter = new ImageTokenAdapter(lm, vocabulary.NewTokens, options.AdapterRank, options.AdapterAlpha, rows);
        adapter.Attach(true);
        return adapter;
    }

    public ImageTokenAdapter Train(string folder, CancellationToken ct)
    {
        var lm = LoadBase(folder);
        var tokenizer = TokenizerLoader.Load(folder);
        using var vq = MoeFamilyTrainer.LoadVq(folder);
        var adapter = Initial(options, lm, tokenizer, vq, log, ct);
        var vocabulary = new ImageVocabulary(lm.Config.VocabSize, vq.Config.CodebookSize, vq.Config.CodesPerImage);
        var sequences = new ImageTokenSequences(new DemoChat(tokenizer, visualTokens: 1), vocabulary);
        long baseWeights = lm.parameters().Sum(p => p.numel());
        log($"adapter: {adapter.TrainableParameters} trainable weights ({adapter.TrainableShare:P2} of base + adapter; base {baseWeights}, frozen), " +
            $"{vocabulary.NewTokens} new tokens, expert LoRA rank {options.AdapterRank} alpha {options.AdapterAlpha} on {adapter.experts_lora.Count} sparse layers, " +
            $"{options.AdapterInit} initial embeddings; {options.AdapterSteps} steps of {options.AdapterBatch} seen requests");

        var validationRequests = Requests(ValidationSeed).Take(options.AdapterValidation).ToList();
        var validationCodes = ImageTokenSequences.Codes(vq, validationRequests);
        var (before, beforeAccuracy) = Validate(adapter, sequences, validationRequests, validationCodes);
        log($"adapter: validation image-run loss before training {before:F4}, next-code accuracy {beforeAccuracy:P1}");

        var parameters = adapter.parameters().ToList();
        using var opt = optim.AdamW(parameters, options.AdapterLr, weight_decay: 0.0);
        int step = 0;
        foreach (var requests in Batches(options))
        {
            ct.ThrowIfCancellationRequested();
            using var guard = TrainingSchedule.StepWithoutGc();
            using var scope = NewDisposeScope();
            TrainingSchedule.SetLr(opt, TrainingSchedule.At(options.AdapterLr, step, options.AdapterSteps));
            var (ids, labels) = sequences.Batch(requests, ImageTokenSequences.Codes(vq, requests));
            var loss = Loss(adapter.Forward(ids), labels, vocabulary.Size);
            opt.zero_grad();
            loss.backward();
            double gradNorm = nn.utils.clip_grad_norm_(parameters, 1.0);
            opt.step();
            if (step % 25 == 0 || step == options.AdapterSteps - 1)
                log($"adapter step {step}: image-run loss {loss.item<float>():F4}, grad norm {gradNorm:F2}");
            step++;
        }
        var (after, afterAccuracy) = Validate(adapter, sequences, validationRequests, validationCodes);
        log($"adapter: validation image-run loss after {options.AdapterSteps} steps {after:F4}, next-code accuracy {afterAccuracy:P1}");
        adapter.Save(folder, new ImageTokenAdapterConfig
        {
            BaseVocabSize = vocabulary.BaseVocabulary, CodebookSize = vocabulary.CodebookSize, GridSize = vq.Config.GridSize,
            LoraRank = options.AdapterRank, LoraAlpha = options.AdapterAlpha,
        });
        log($"adapter: wrote {ImageTokenAdapterConfig.FileName} and {ImageTokenAdapterConfig.WeightsFileName}");
        return adapter;
    }

    /// <summary>Mean cross-entropy of the labelled positions (next-token, labels -100 ignored).</summary>
    public static Tensor Loss(Tensor logits, Tensor labels, int vocabularySize) =>
        nn.functional.cross_entropy(logits[.., ..^1].reshape(-1, vocabularySize), labels[.., 1..].reshape(-1), ignore_index: -100);

    /// <summary>Validation image-run loss and the share of code positions whose argmax is the target code (teacher forced).</summary>
    public static (double Loss, double CodeAccuracy) Validate(ImageTokenAdapter adapter, ImageTokenSequences sequences, IReadOnlyList<WorldDialogue> requests, long[] codes)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        int per = sequences.Vocabulary.CodesPerImage;
        double loss = 0;
        long hits = 0, total = 0;
        for (int start = 0; start < requests.Count; start += 16)
        {
            var part = requests.Skip(start).Take(16).ToList();
            var (ids, labels) = sequences.Batch(part, codes.AsSpan(start * per, part.Count * per).ToArray());
            var logits = adapter.Forward(ids);
            loss += Loss(logits, labels, sequences.Vocabulary.Size).item<float>() * part.Count;
            var predicted = logits[.., ..^1].argmax(-1);
            var target = labels[.., 1..];
            var isCode = target >= sequences.Vocabulary.BaseVocabulary + 2;
            hits += (predicted.eq(target) & isCode).sum().item<long>();
            total += isCode.sum().item<long>();
        }
        return (loss / requests.Count, total == 0 ? 0 : hits / (double)total);
    }
}
