using TorchSharp.PyBridge;
using System.Text.Json;
using System.Text.Json.Nodes;
using Platform.Inference.Engine;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;
using Platform.Inference.Tokenization;
using Platform.Judging;
using Platform.Multimodal.Models;
using Platform.Multimodal.Training;
using Platform.Multimodal.World;
using static TorchSharp.torch;

namespace Platform.Train.Judge;

/// <summary>Settings of the demo judge's training (command <c>judge</c>).</summary>
public sealed record JudgeTrainOptions
{
    public string OutputFolder { get; init; } = "models/demo-judge";
    public int Seed { get; init; } = 4321;
    public int Steps { get; init; } = 2500;
    public int Batch { get; init; } = 16;
    public int Hidden { get; init; } = 128;
    public int Layers { get; init; } = 4;
    public int Heads { get; init; } = 4;
    public int Intermediate { get; init; } = 384;
    public int MaxPositions { get; init; } = 1024;
    public int Threads { get; init; } = 2;
    public double LearningRate { get; init; } = 2e-3;
    /// <summary>Wall-clock budget: the schedule runs over whichever of Steps and Minutes ends first (shared CPUs vary).</summary>
    public double Minutes { get; init; } = double.PositiveInfinity;
    /// <summary>The demo family's folder: its frozen visual encoder is copied into the judge's folder, and its decoder
    /// draws the decoder pictures of the image cases (read at training time only).</summary>
    public string FamilyFolder { get; init; } = "models/demo";
    /// <summary>Share of pictures drawn by the decoder (the rest are rendered).</summary>
    public double DecoderShare { get; init; } = 0.35;
    /// <summary>Continue from the weights already in the output folder (same sizes and seed, so the same tokenizer);
    /// the optimizer starts afresh with its warm-up.</summary>
    public bool Resume { get; init; }
    /// <summary>Seed of the data stream (a resumed run takes another one so it does not replay the same examples).</summary>
    public int? DataSeed { get; init; }
}

/// <summary>
/// Trains <c>demo-judge</c> from scratch on <see cref="JudgeWorld"/> (the Seen split only): a Llama with its own byte-level
/// BPE tokenizer (trained on the judge prompts and critiques, so Auto-J's fixed instructions cost one token a word),
/// next-token loss on the critique and verdict only. Set-protocol examples are trained with the very mask and
/// positions the engine uses at serving time (<see cref="SetLayout"/>), so the judge learns to read a set.
/// Pictures reach the judge as they do at serving time: the demo family's visual encoder (frozen, copied into the
/// judge's folder) and a projection into the judge's own embedding space (trained here with the LM, GILL's input
/// side), spliced where the prompt has "&lt;image&gt;"; the folder is an input-only multimodal folder
/// (<see cref="VisualInput"/>) that ImageGen loads to encode the judge's images.
/// </summary>
public sealed class DemoJudgeTrainer(JudgeTrainOptions options, Action<string> log)
{
    public const string EndOfText = "<|endoftext|>";

    public void Run(CancellationToken ct)
    {
        set_num_threads(options.Threads);
        manual_seed(options.Seed);
        var folder = options.OutputFolder;
        Directory.CreateDirectory(folder);
        var tokenizer = BuildTokenizer(folder);
        int vocab = (tokenizer.VocabSize + 7) / 8 * 8;
        int eos = tokenizer.TokenToId(EndOfText) ?? throw new InvalidOperationException("no end token");
        var eosJson = JsonDocument.Parse($"{eos}").RootElement.Clone();
        var config = new LlamaConfig
        {
            VocabSize = vocab, HiddenSize = options.Hidden, IntermediateSize = options.Intermediate, NumHiddenLayers = options.Layers,
            NumAttentionHeads = options.Heads, NumKeyValueHeads = options.Heads, MaxPositionEmbeddings = options.MaxPositions,
            RmsNormEps = 1e-5, RopeTheta = 10000, TieWordEmbeddings = true, EosTokenId = eosJson, TorchDtype = "float32",
        };
        File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJson());
        File.WriteAllText(Path.Combine(folder, "generation_config.json"), new GenerationConfig { EosTokenId = eosJson, MaxNewTokens = 128 }.ToJson());

        var lm = new LlamaForCausalLM(config);
        using (no_grad()) lm.model.embed_tokens.weight!.normal_(0, 0.02);
        using var visual = BuildVisualInput(folder);
        if (options.Resume)
        {
            lm.load_safetensors(Path.Combine(folder, "model.safetensors"), strict: true);
            visual.load_safetensors(Path.Combine(folder, ModelFiles.Heads), strict: true);
            log($"judge: resumed from {folder}");
        }
        var parameters = lm.parameters().Concat(visual.visual_projection.parameters()).ToList();
        using var opt = optim.AdamW(parameters, options.LearningRate, weight_decay: 0.01);
        var pictures = JudgePictures.WithDecoder(options.Seed + 303, options.FamilyFolder, WorldSplit.Seen, options.DecoderShare);
        log($"judge: {pictures.DecoderPictures} clear decoder pictures of seen descriptions");
        var world = new JudgeWorld(options.DataSeed ?? options.Seed, WorldSplit.Seen, pictures);
        lm.train();
        int longest = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int step = 0; step < options.Steps; step++)
        {
            ct.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            // Linear warm-up over 50 steps, then cosine decay to a tenth over the progress through the step count or
            // the time budget, whichever is further along; training ends when either is used up.
            double progress = Math.Max((double)step / options.Steps, clock.Elapsed.TotalMinutes / options.Minutes);
            if (progress >= 1) { log($"judge: budget used at step {step}"); break; }
            double lr = step < 50 ? options.LearningRate * (step + 1) / 50
                : options.LearningRate * (0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * progress)));
            foreach (var g in opt.ParamGroups) g.LearningRate = lr;
            var examples = Enumerable.Range(0, options.Batch).Select(_ => Encode(tokenizer, world.Next(), eos)).ToList();
            var (ids, positions, mask, labels) = Collate(examples);
            longest = Math.Max(longest, (int)ids.shape[1]);
            var embeds = Embed(lm, visual, examples, ids);
            var logits = lm.Forward(new LlamaInputs { InputsEmbeds = embeds, PositionIds = positions, AttentionMask = mask }).Logits!;
            var loss = nn.functional.cross_entropy(logits[.., ..^1].reshape(-1, vocab), labels[.., 1..].reshape(-1), ignore_index: -100);
            opt.zero_grad();
            loss.backward();
            double norm = nn.utils.clip_grad_norm_(parameters, 1.0);
            opt.step();
            if (step % 25 == 0 || step == options.Steps - 1)
                log($"judge step {step}: loss {loss.item<float>():F4}, lr {lr:E2}, grad norm {norm:F2}, longest {longest} tokens");
            if (step % 50 == 49) Save(lm, visual, folder);
        }
        lm.eval();
        Save(lm, visual, folder);
        log($"saved {folder}");
    }

    /// <summary>The tokenizer: byte-level BPE over judge prompts and targets of both splits' vocabulary (words only).</summary>
    private TextTokenizer BuildTokenizer(string folder)
    {
        var corpus = new List<string>();
        var seen = new JudgeWorld(options.Seed + 1, WorldSplit.Seen);
        for (int i = 0; i < 1500; i++)
        {
            var e = seen.Next();
            corpus.AddRange(TextEngine.SplitMarkedText(e.Prompt).SelectMany(p => p.Run is { } r ? [r] : p.Members!)
                .SelectMany(t => t.Split(GenerationRequest.ImagePlaceholder)));
            corpus.Add(e.Target);
        }
        // Every colour and shape word (the held-out pairs never occur together in training, but their words do).
        corpus.Add(string.Join(" ", Palette.Names.Concat(["circle", "square", "triangle"])));
        int size = DemoTokenizerWriter.Write(folder, corpus, [], maxMerges: 1500);
        var tokenizerConfig = new JsonObject
        {
            ["add_bos_token"] = false, ["bos_token"] = null, ["eos_token"] = EndOfText, ["model_max_length"] = options.MaxPositions,
        };
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), tokenizerConfig.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        log($"judge tokenizer: {size} tokens");
        return TokenizerLoader.Load(folder);
    }

    /// <summary>An encoded example; <paramref name="VisualRows"/> lists (sequence index, picture, visual token) of every
    /// spliced visual token.</summary>
    private sealed record Encoded(int[] Ids, long[] Positions, Func<int, int, bool> Allowed, int PromptLength,
        IReadOnlyList<Picture> Pictures, IReadOnlyList<(int Index, int Picture, int Token)> VisualRows);

    /// <summary>
    /// Prompt laid out as the engine lays it out (pieces tokenized alone with each "&lt;image&gt;" replaced by the
    /// picture's visual tokens, pictures taken in text order, sets canonical), then target + end token. While laying
    /// out, each visual row carries (picture, token) so the projected tokens can be put where the layout put them.
    /// </summary>
    private static Encoded Encode(TextTokenizer tok, JudgeExample e, int eos)
    {
        int next = 0;
        TokenRun Piece(string text)
        {
            var tokens = new List<int>();
            var rows = new List<float[]?>();
            var parts = text.Split(GenerationRequest.ImagePlaceholder);
            for (int i = 0; i < parts.Length; i++)
            {
                if (parts[i].Length > 0) foreach (var t in tok.Encode(parts[i])) { tokens.Add(t); rows.Add(null); }
                if (i == parts.Length - 1) break;
                int picture = next++;
                for (int v = 0; v < VisualProjection.TokensPerSlot * 2; v++) { tokens.Add(eos); rows.Add([picture, v]); }
            }
            return new TokenRun(tokens.ToArray(), rows.ToArray());
        }
        var pieces = TextEngine.SplitMarkedText(e.Prompt)
            .Where(p => p.Run is null || p.Run.Length > 0)
            .Select(p => p.Run is { } r
                ? ((TokenRun?)Piece(r), (IReadOnlyList<TokenRun>?)null)
                : (null, p.Members!.Select(Piece).ToList()))
            .ToList();
        if (next != e.Pictures.Count) throw new InvalidOperationException($"{e.Kind}: {next} placeholders, {e.Pictures.Count} pictures");
        var layout = SetLayout.Build(pieces);
        var visualRows = new List<(int, int, int)>();
        for (int i = 0; i < layout.Rows.Length; i++)
            if (layout.Rows[i] is { } r) visualRows.Add((i, (int)r[0], (int)r[1]));
        var target = tok.Encode(" " + e.Target).Append(eos).ToArray();
        int n = layout.Tokens.Length;
        var ids = layout.Tokens.Concat(target).ToArray();
        var pos = layout.Positions.Concat(Enumerable.Range(0, target.Length).Select(i => layout.NextPosition + i)).ToArray();
        return new Encoded(ids, pos, (q, k) => k <= q && (q >= n || layout.Allowed(q, k)), n, e.Pictures, visualRows);
    }

    /// <summary>Token embeddings with the pictures' projected visual tokens spliced in (encoder frozen, projection trained).</summary>
    private static Tensor Embed(LlamaForCausalLM lm, VisualInput visual, List<Encoded> batch, Tensor ids)
    {
        long t = ids.shape[1], h = lm.Config.HiddenSize;
        var embeds = lm.model.embed_tokens.forward(ids);
        var pictures = batch.SelectMany(e => e.Pictures).ToList();
        if (pictures.Count == 0) return embeds;
        int s = visual.Config.ImageSize, n = 3 * s * s;
        var planar = new float[pictures.Count * n];
        for (int i = 0; i < pictures.Count; i++) SceneRenderer.ToPlanar(pictures[i].Rgb).CopyTo(planar, i * n);
        Tensor logits;
        using (no_grad()) logits = visual.visual_encoder.forward(tensor(planar, [pictures.Count, 3, s, s]));
        var tokens = visual.visual_projection.forward(logits).reshape(-1, h);   // [pictures * visual_tokens, H]
        int per = visual.Config.VisualTokens;
        var rows = new List<long>();
        var sources = new List<long>();
        int first = 0;
        for (int b = 0; b < batch.Count; b++)
        {
            foreach (var (index, picture, token) in batch[b].VisualRows)
            {
                rows.Add(b * t + index);
                sources.Add((first + picture) * per + token);
            }
            first += batch[b].Pictures.Count;
        }
        return embeds.reshape(-1, h).index_copy(0, tensor(rows.ToArray()), tokens.index_select(0, tensor(sources.ToArray()))).reshape(batch.Count, t, h);
    }

    /// <summary>
    /// The judge's input side: the family's visual encoder (weights copied, frozen) and a new projection into the
    /// judge's hidden size; writes the input-only multimodal_config.json.
    /// </summary>
    private VisualInput BuildVisualInput(string folder)
    {
        var familyConfig = MultimodalConfig.Read(Path.Combine(options.FamilyFolder, ModelFiles.Config));
        var config = familyConfig with { LmHiddenSize = options.Hidden, InputOnly = true };
        if (config.VisualTokens != VisualProjection.TokensPerSlot * 2 || config.ConditionSlots != 2)
            throw new InvalidDataException($"{options.FamilyFolder}: expected 2 slots and 8 visual tokens");
        using var family = new MultimodalHeads(familyConfig);
        family.load_safetensors(Path.Combine(options.FamilyFolder, ModelFiles.Heads), strict: true);
        var visual = new VisualInput(config);
        using (no_grad())
        {
            var source = family.visual_encoder.state_dict();
            foreach (var (name, p) in visual.visual_encoder.named_parameters()) p.copy_(source[name]);
        }
        foreach (var p in visual.visual_encoder.parameters()) p.requires_grad = false;
        visual.visual_encoder.eval();
        log($"judge: visual encoder copied from {options.FamilyFolder} (frozen), projection to hidden {options.Hidden}");
        return visual;
    }

    private static void Save(LlamaForCausalLM lm, VisualInput visual, string folder)
    {
        lm.save_safetensors(Path.Combine(folder, "model.safetensors"));
        InputOnlyFolder.Write(folder, visual);
    }

    private static (Tensor Ids, Tensor Positions, Tensor Mask, Tensor Labels) Collate(List<Encoded> batch)
    {
        int b = batch.Count, t = batch.Max(x => x.Ids.Length);
        var ids = new long[b * t];
        var pos = new long[b * t];
        var labels = new long[b * t];
        var mask = new bool[b * t * t];
        Array.Fill(labels, -100);
        for (int i = 0; i < b; i++)
        {
            var e = batch[i];
            for (int q = 0; q < t; q++)
            {
                if (q < e.Ids.Length)
                {
                    ids[i * t + q] = e.Ids[q];
                    pos[i * t + q] = e.Positions[q];
                    if (q >= e.PromptLength) labels[i * t + q] = e.Ids[q];
                    for (int k = 0; k <= q; k++) mask[(i * t + q) * t + k] = e.Allowed(q, k);
                }
                else mask[(i * t + q) * t + q] = true;   // padding attends to itself only (no empty softmax)
            }
        }
        return (tensor(ids).view(b, t), tensor(pos).view(b, t), tensor(mask).view(b, t, t), tensor(labels).view(b, t));
    }
}
