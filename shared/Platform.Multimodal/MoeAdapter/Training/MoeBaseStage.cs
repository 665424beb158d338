using System.Security.Cryptography;
using System.Text.Json;
using Platform.Inference.Loading;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;
using Platform.Inference.Models.Mixtral;
using Platform.Inference.Models.Moe;
using Platform.Inference.Tokenization;
using Platform.Multimodal.Training;
using Platform.Multimodal.World;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Platform.Multimodal.MoeAdapter.Training;

/// <summary>
/// The text-only MoE base, fixed before any adapter: sparse upcycling (Komatsuzaki et al. 2022) of the dense demo LM
/// (a LlamaForCausalLM) into a Mixtral (<c>model_type: mixtral</c>): attention, norms and embeddings copied, every
/// MLP copied into each of the E experts (gate_proj -> w1, up_proj -> w3, down_proj -> w2), a fresh router
/// (N(0, 0.02), HF's initializer_range). With identical experts and renormalised top-k weights the upcycled model
/// computes exactly the dense one; then a short training on the world's text-only conversations (drawing requests
/// answered in words, small talk, requests outside the world; no picture in or out) with the load-balancing loss of
/// Switch / Mixtral (router_aux_loss_coef x E x sum_e f_e P_e) so the experts diverge instead of collapsing.
/// </summary>
public sealed class MoeBaseStage(MoeTrainOptions options, Action<string> log)
{
    public const string Name = "base";
    public static readonly string[] CopiedFiles = ["tokenizer.json", "tokenizer_config.json", "generation_config.json"];
    /// <summary>Seed of the validation conversations (no training stream uses it).</summary>
    public const int ValidationSeed = 777_001;

    /// <summary>A conversation with no picture in or out: null when a turn reads an image; else the [IMG] runs are removed.</summary>
    public static WorldDialogue? TextOnly(WorldDialogue dialogue)
    {
        if (dialogue.Turns.Any(t => t.InputImages.Count > 0)) return null;
        return dialogue with
        {
            Turns = dialogue.Turns.Select(t => t with
            {
                Text = t.Text.Replace(" " + WorldText.ImageTokenRun, "", StringComparison.Ordinal).Replace(WorldText.ImageTokenRun, "", StringComparison.Ordinal),
                OutputScene = null, OutputScenes = null, Retrieve = false,
            }).ToList(),
        };
    }

    /// <summary>Text-only conversations of the world's (seen) stream, in order.</summary>
    public static IEnumerable<WorldDialogue> TextDialogues(int seed)
    {
        var generator = new SceneGenerator(seed);
        while (true)
            if (TextOnly(generator.NextConversation()) is { } d) yield return d;
    }

    /// <summary>Every training batch, in order (the stage's whole training stream).</summary>
    public static IEnumerable<IReadOnlyList<WorldDialogue>> Batches(MoeTrainOptions options)
    {
        using var stream = TextDialogues(options.Seed + 21).GetEnumerator();
        for (int step = 0; step < options.BaseSteps; step++)
        {
            var batch = new List<WorldDialogue>(options.BaseBatch);
            for (int i = 0; i < options.BaseBatch && stream.MoveNext(); i++) batch.Add(stream.Current);
            yield return batch;
        }
    }

    /// <summary>The Mixtral config of the upcycled dense config: same sizes, E experts of the dense MLP's width.</summary>
    public static MixtralConfig UpcycledConfig(LlamaConfig dense, int experts, int topK) => new()
    {
        VocabSize = dense.VocabSize, HiddenSize = dense.HiddenSize, IntermediateSize = dense.IntermediateSize,
        NumHiddenLayers = dense.NumHiddenLayers, NumAttentionHeads = dense.NumAttentionHeads, NumKeyValueHeads = dense.NumKeyValueHeads,
        HeadDim = dense.HeadDim, HiddenAct = dense.HiddenAct, MaxPositionEmbeddings = dense.MaxPositionEmbeddings, RmsNormEps = dense.RmsNormEps,
        RopeTheta = dense.RopeTheta, RopeScaling = dense.RopeScaling, TieWordEmbeddings = dense.TieWordEmbeddings, BosTokenId = dense.BosTokenId,
        EosTokenId = dense.EosTokenId, PadTokenId = dense.PadTokenId, TorchDtype = dense.TorchDtype,
        NumLocalExperts = experts, NumExpertsPerTok = topK,
    };

    /// <summary>Sparse upcycling: a Mixtral whose every expert is the dense layer's MLP and whose routers are fresh.</summary>
    public static LlamaForCausalLM Upcycle(LlamaForCausalLM dense, int experts, int topK)
    {
        if (dense.Config is MoeConfig) throw new ArgumentException("the model to upcycle is already a Mixture-of-Experts model");
        if (dense.Config.MlpBias || dense.Config.AttentionBias) throw new ArgumentException("upcycling into Mixtral needs a dense model without biases (Mixtral has none)");
        var config = UpcycledConfig(dense.Config, experts, topK);
        config.Validate();
        var moe = new LlamaForCausalLM(config);
        var source = dense.state_dict();
        var mapped = new Dictionary<string, Tensor>();
        foreach (var (key, value) in source)
        {
            var parts = key.Split('.');
            // model.layers.N.mlp.{gate,up,down}_proj.weight -> model.layers.N.block_sparse_moe.experts.E.w{1,3,2}.weight
            if (parts.Length == 6 && parts[0] == "model" && parts[1] == "layers" && parts[3] == "mlp")
            {
                var w = parts[4] switch { "gate_proj" => "w1", "up_proj" => "w3", "down_proj" => "w2", _ => throw new InvalidDataException($"unexpected MLP weight {key}") };
                for (int e = 0; e < experts; e++) mapped[$"model.layers.{parts[2]}.block_sparse_moe.experts.{e}.{w}.weight"] = value;
            }
            else mapped[key] = value;
        }
        var target = moe.state_dict();
        using (no_grad())
        {
            foreach (var (key, value) in target)
            {
                if (mapped.TryGetValue(key, out var from)) value.copy_(from);
                else if (key.EndsWith(".block_sparse_moe.gate.weight", StringComparison.Ordinal)) value.normal_(0, 0.02);
                else throw new InvalidDataException($"upcycling: no dense weight for {key}");
            }
        }
        var unused = mapped.Keys.Except(target.Keys).ToList();
        if (unused.Count > 0) throw new InvalidDataException($"upcycling: dense weights without a place in the MoE: {string.Join(", ", unused.Take(4))}");
        return moe;
    }

    public LlamaForCausalLM Train(string folder, CancellationToken ct)
    {
        var denseFolder = options.DenseModel;
        foreach (var file in CopiedFiles.Append("config.json").Append("model.safetensors"))
            if (!File.Exists(Path.Combine(denseFolder, file))) throw new FileNotFoundException($"{Path.Combine(denseFolder, file)}: the dense demo LM to upcycle is missing", file);
        using var dense = new LlamaForCausalLM(ModelLoader.ReadConfig(denseFolder));
        dense.load_safetensors(Path.Combine(denseFolder, "model.safetensors"), strict: true);
        dense.eval();
        foreach (var file in CopiedFiles) File.Copy(Path.Combine(denseFolder, file), Path.Combine(folder, file), overwrite: true);
        var tokenizer = TokenizerLoader.Load(folder);
        var chat = new DemoChat(tokenizer, visualTokens: 1);

        MoeFamilyTrainer.SeedStage(options, Name);
        var lm = Upcycle(dense, options.Experts, options.ExpertsPerToken);
        var config = (MixtralConfig)lm.Config;
        File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJson());
        var validation = TextDialogues(ValidationSeed).Take(64).Select(d => chat.Encode(d.Turns)).ToList();
        log($"base: upcycled {Path.GetFullPath(denseFolder)} (model.safetensors sha256 {Sha256(Path.Combine(denseFolder, "model.safetensors"))}) into {config.NumLocalExperts} experts, top-{config.NumExpertsPerTok}; " +
            $"{lm.parameters().Sum(p => p.numel())} weights (dense {dense.parameters().Sum(p => p.numel())})");
        log($"base: text validation loss, dense {ValidationLoss(dense, validation):F4}, upcycled before training {ValidationLoss(lm, validation):F4}");

        var blocks = lm.model.layers.OfType<MixtralDecoderLayer>().Select(l => (SparseMoeBlock)l.Moe).ToArray();
        var parameters = lm.parameters().ToList();
        using var opt = optim.AdamW(parameters, 1e-3, weight_decay: 0.01);
        lm.train();
        int step = 0, vocab = config.VocabSize;
        foreach (var dialogues in Batches(options))
        {
            ct.ThrowIfCancellationRequested();
            using var guard = TrainingSchedule.StepWithoutGc();
            using var scope = NewDisposeScope();
            TrainingSchedule.SetLr(opt, TrainingSchedule.At(1e-3, step, options.BaseSteps));
            var (ids, labels, valid) = Pad(dialogues.Select(d => chat.Encode(d.Turns)).ToList());
            var aux = new List<Tensor>();
            foreach (var block in blocks) block.RouterLogitsObserver = logits => aux.Add(LoadBalancingLoss(logits, valid, config.NumLocalExperts, config.NumExpertsPerTok).DetachFromDisposeScope());
            Tensor logitsOut;
            try { logitsOut = lm.forward(ids); }
            finally { foreach (var block in blocks) block.RouterLogitsObserver = null; }
            var lmLoss = nn.functional.cross_entropy(logitsOut[.., ..^1].reshape(-1, vocab), labels[.., 1..].reshape(-1), ignore_index: -100);
            var balance = stack(aux).mean();
            foreach (var a in aux) a.Dispose();
            var loss = lmLoss + config.RouterAuxLossCoef * balance;
            opt.zero_grad();
            loss.backward();
            double gradNorm = nn.utils.clip_grad_norm_(parameters, 1.0);
            opt.step();
            if (step % 50 == 0 || step == options.BaseSteps - 1)
                log($"base step {step}: loss {lmLoss.item<float>():F4}, load balance {balance.item<float>():F4} (balanced: {config.NumExpertsPerTok}), grad norm {gradNorm:F2}");
            step++;
        }
        lm.eval();
        log($"base: text validation loss after {options.BaseSteps} steps {ValidationLoss(lm, validation):F4}");
        LogRouting(lm, blocks, validation);
        lm.save_safetensors(Path.Combine(folder, "model.safetensors"));
        return lm;
    }

    /// <summary>Switch Transformer / Mixtral load-balancing loss over the real (non-pad) rows: E x sum_e sum_k f_{k,e} P_e,
    /// f = share of rows whose k-th choice is e, P = mean router probability (transformers' load_balancing_loss_func).</summary>
    public static Tensor LoadBalancingLoss(Tensor routerLogits, Tensor validRows, int experts, int topK)
    {
        using var scope = NewDisposeScope();
        var logits = routerLogits.index_select(0, validRows);
        var probs = logits.to_type(float32).softmax(-1);
        var chosen = probs.topk(topK, -1).indexes;
        var mask = nn.functional.one_hot(chosen, experts).to_type(float32);   // [N, k, E]
        var tokensPerExpert = mask.mean([0]);                                 // [k, E]
        var probPerExpert = probs.mean([0]);                                  // [E]
        return ((tokensPerExpert * probPerExpert.unsqueeze(0)).sum() * experts).MoveToOuterDisposeScope();
    }

    /// <summary>Right-padded ids [B, T], labels [B, T] (-100 where no loss) and the flat indices of real rows.</summary>
    public static (Tensor Ids, Tensor Labels, Tensor ValidRows) Pad(IReadOnlyList<EncodedDialogue> batch)
    {
        int t = batch.Max(d => d.Ids.Length);
        var ids = new long[batch.Count * t];
        var labels = new long[batch.Count * t];
        Array.Fill(labels, -100L);
        var valid = new List<long>();
        for (int i = 0; i < batch.Count; i++)
            for (int j = 0; j < batch[i].Ids.Length; j++)
            {
                ids[i * t + j] = batch[i].Ids[j];
                if (batch[i].Loss[j]) labels[i * t + j] = batch[i].Ids[j];
                valid.Add(i * t + j);
            }
        return (tensor(ids, [batch.Count, t]), tensor(labels, [batch.Count, t]), tensor(valid.ToArray()));
    }

    /// <summary>Mean next-token cross entropy on the assistant tokens of <paramref name="dialogues"/>.</summary>
    public static double ValidationLoss(LlamaForCausalLM lm, IReadOnlyList<EncodedDialogue> dialogues)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (ids, labels, _) = Pad(dialogues);
        var logits = lm.forward(ids);
        return nn.functional.cross_entropy(logits[.., ..^1].reshape(-1, lm.Config.VocabSize), labels[.., 1..].reshape(-1), ignore_index: -100).item<float>();
    }

    private void LogRouting(LlamaForCausalLM lm, SparseMoeBlock[] blocks, IReadOnlyList<EncodedDialogue> validation)
    {
        var counts = new long[blocks.Length, blocks[0].ExpertCount];
        for (int l = 0; l < blocks.Length; l++)
        {
            int layer = l;
            blocks[l].RoutingObserver = ids => { foreach (var e in ids) counts[layer, e]++; };
        }
        try
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            // One dialogue at a time: no pad rows in the counts.
            foreach (var d in validation) lm.forward(tensor(d.Ids.Select(x => (long)x).ToArray()).unsqueeze(0));
        }
        finally { foreach (var b in blocks) b.RoutingObserver = null; }
        for (int l = 0; l < blocks.Length; l++)
        {
            long total = Enumerable.Range(0, blocks[l].ExpertCount).Sum(e => counts[l, e]);
            log($"base routing, layer {l}: " + string.Join(", ", Enumerable.Range(0, blocks[l].ExpertCount).Select(e => $"expert {e} {counts[l, e] / (double)total:P1}")));
        }
    }

    private static string Sha256(string path)
    {
        using var file = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(file)).ToLowerInvariant();
    }
}
