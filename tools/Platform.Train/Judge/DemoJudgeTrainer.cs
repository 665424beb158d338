using TorchSharp.PyBridge;
using System.Text.Json;
using System.Text.Json.Nodes;
using Platform.Inference.Engine;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;
using Platform.Inference.Tokenization;
using Platform.Judging;
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
}

/// <summary>
/// Trains <c>demo-judge</c> from scratch on <see cref="JudgeWorld"/> (the Seen split only): a Llama with its own byte-level
/// BPE tokenizer (trained on the judge prompts and critiques, so Auto-J's fixed instructions cost one token a word),
/// next-token loss on the critique and verdict only. Set-protocol examples are trained with the very mask and
/// positions the engine uses at serving time (<see cref="SetLayout"/>), so the judge learns to read a set.
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
        var parameters = lm.parameters().ToList();
        using var opt = optim.AdamW(parameters, options.LearningRate, weight_decay: 0.01);
        var world = new JudgeWorld(options.Seed, WorldSplit.Seen);
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
            var logits = lm.Forward(new LlamaInputs { InputIds = ids, PositionIds = positions, AttentionMask = mask }).Logits!;
            var loss = nn.functional.cross_entropy(logits[.., ..^1].reshape(-1, vocab), labels[.., 1..].reshape(-1), ignore_index: -100);
            opt.zero_grad();
            loss.backward();
            double norm = nn.utils.clip_grad_norm_(parameters, 1.0);
            opt.step();
            if (step % 25 == 0 || step == options.Steps - 1)
                log($"judge step {step}: loss {loss.item<float>():F4}, lr {lr:E2}, grad norm {norm:F2}, longest {longest} tokens");
            if (step % 50 == 49) lm.save_safetensors(Path.Combine(folder, "model.safetensors"));
        }
        lm.eval();
        lm.save_safetensors(Path.Combine(folder, "model.safetensors"));
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
            corpus.AddRange(TextEngine.SplitMarkedText(e.Prompt).SelectMany(p => p.Run is { } r ? [r] : p.Members!));
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

    private sealed record Encoded(int[] Ids, long[] Positions, Func<int, int, bool> Allowed, int PromptLength);

    /// <summary>Prompt laid out as the engine lays it out (pieces tokenized alone, sets canonical), then target + end token.</summary>
    private static Encoded Encode(TextTokenizer tok, JudgeExample e, int eos)
    {
        var pieces = TextEngine.SplitMarkedText(e.Prompt)
            .Where(p => p.Run is null || p.Run.Length > 0)
            .Select(p => p.Run is { } r
                ? ((TokenRun?)TokenRun.Of(tok.Encode(r)), (IReadOnlyList<TokenRun>?)null)
                : (null, p.Members!.Select(m => TokenRun.Of(tok.Encode(m))).ToList()))
            .ToList();
        var layout = SetLayout.Build(pieces);
        var target = tok.Encode(" " + e.Target).Append(eos).ToArray();
        int n = layout.Tokens.Length;
        var ids = layout.Tokens.Concat(target).ToArray();
        var pos = layout.Positions.Concat(Enumerable.Range(0, target.Length).Select(i => layout.NextPosition + i)).ToArray();
        return new Encoded(ids, pos, (q, k) => k <= q && (q >= n || layout.Allowed(q, k)), n);
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
