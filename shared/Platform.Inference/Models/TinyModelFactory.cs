using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Platform.Inference.Gguf;
using Platform.Inference.Models.Llama;
using Platform.Inference.Tokenization;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Platform.Inference.Models;

/// <summary>
/// Writes small random models in real Hugging Face layout (config.json, model.safetensors or shards + index,
/// tokenizer.json or tokenizer.model, tokenizer_config.json with a chat template, generation_config.json).
/// Used by tests, benchmarks, the GGUF exporter's tests and as the platform's interim default model. The
/// tokenizer is a real BPE trained here on a small built-in corpus (a few hundred merges), so text round trips
/// exactly and some tokens hold partial UTF-8 characters.
/// </summary>
public static class TinyModelFactory
{
    public static readonly string[] SpecialTokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];
    public const string DemoChatTemplate =
        "{# demo chat template (ChatML layout) #}{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /// <summary>Built-in training text: English, punctuation, digits and multi-byte characters.</summary>
    public const string Corpus =
        "The quick brown fox jumps over the lazy dog. A small model learns to write short answers about images, " +
        "pictures and text. Hello world! The platform serves interleaved text and images: the user asks, the model " +
        "answers, and the image decoder draws a picture of the scene. It is a sunny day in the park; children play " +
        "with a red ball while their parents talk. There are 12 apples, 3 oranges and 2024 stars in the sky. " +
        "Café, naïve, résumé, Größe, über, façade. 日本語のテキスト、中文文本，한국어 텍스트. Emoji: 😀 🎉 🚀 ✨. " +
        "What is in this image? I see a cat sitting on a mat next to a window. The weather is nice today. " +
        "Please describe the picture in one sentence. Generate an image of a mountain lake at sunset.";

    /// <summary>A tiny Llama config (hidden 64, 2 layers, GQA 4/2) sized for tests.</summary>
    public static LlamaConfig TinyConfig(int vocabSize = 512) => new()
    {
        VocabSize = vocabSize, HiddenSize = 64, IntermediateSize = 128, NumHiddenLayers = 2, NumAttentionHeads = 4,
        NumKeyValueHeads = 2, MaxPositionEmbeddings = 512, RmsNormEps = 1e-5, RopeTheta = 10000, TieWordEmbeddings = true,
    };

    /// <summary>SmolLM-135M's shape (HuggingFaceTB/SmolLM-135M config.json) with random weights.</summary>
    public static LlamaConfig SmolLM135MConfig() => new()
    {
        VocabSize = 49152, HiddenSize = 576, IntermediateSize = 1536, NumHiddenLayers = 30, NumAttentionHeads = 9,
        NumKeyValueHeads = 3, MaxPositionEmbeddings = 2048, RmsNormEps = 1e-5, RopeTheta = 10000, TieWordEmbeddings = true,
    };

    /// <summary>Writes a model folder; returns the folder. Token ids: specials first, then bytes, then merges.</summary>
    /// <param name="extraSpecialTokens">More special tokens (e.g. GILL's [IMG0]..[IMG7]).</param>
    public static string Create(string folder, LlamaConfig config, TokenizerKind kind = TokenizerKind.ByteLevelBpe, int seed = 0,
        bool sharded = false, int merges = 400, IReadOnlyList<string>? extraSpecialTokens = null, string? chatTemplate = DemoChatTemplate)
    {
        Directory.CreateDirectory(folder);
        var specials = SpecialTokens.Concat(extraSpecialTokens ?? []).ToArray();
        int tokenizerSize = kind == TokenizerKind.ByteLevelBpe
            ? WriteByteLevelTokenizer(folder, specials, merges, config.VocabSize)
            : WriteSentencePieceModel(Path.Combine(folder, "tokenizer.model"), merges, config.VocabSize);
        if (tokenizerSize > config.VocabSize)
            throw new ArgumentException($"config vocab_size {config.VocabSize} is smaller than the tokenizer ({tokenizerSize} tokens)");

        int eos = kind == TokenizerKind.ByteLevelBpe ? 0 : 2;   // <|endoftext|> / </s>
        int? bos = kind == TokenizerKind.ByteLevelBpe ? null : 1;
        var full = config with
        {
            EosTokenId = JsonDocument.Parse(eos.ToString()).RootElement.Clone(),
            BosTokenId = bos ?? config.BosTokenId,
            TorchDtype = "float32",
            ModelType = config.Architecture == "Qwen2ForCausalLM" ? "qwen2" : config.Architecture == "MistralForCausalLM" ? "mistral" : config.ModelType,
        };
        File.WriteAllText(Path.Combine(folder, "config.json"), full.ToJson());
        File.WriteAllText(Path.Combine(folder, "generation_config.json"),
            new GenerationConfig { BosTokenId = bos, EosTokenId = full.EosTokenId }.ToJson());

        var tokenizerConfig = new JsonObject
        {
            ["add_bos_token"] = kind == TokenizerKind.SentencePiece,
            ["bos_token"] = kind == TokenizerKind.SentencePiece ? "<s>" : null,
            ["eos_token"] = kind == TokenizerKind.SentencePiece ? "</s>" : "<|endoftext|>",
            ["model_max_length"] = config.MaxPositionEmbeddings,
        };
        if (chatTemplate is not null) tokenizerConfig["chat_template"] = chatTemplate;
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), tokenizerConfig.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

        WriteWeights(folder, full, seed, sharded);
        return folder;
    }

    /// <summary>
    /// Random weights from a seeded generator of their own: TorchSharp's default Linear init (uniform in
    /// ±1/sqrt(fan_in)), embeddings N(0, 0.1) and layer outputs scaled up so that with a tied head the layers
    /// (not just "repeat the last token") decide the output, norms perturbed around 1.
    /// Every value is drawn from that generator, never from torch's global one, so tests running in parallel
    /// (which draw from the global generator) cannot change the weights a seed gives.
    /// </summary>
    public static void WriteWeights(string folder, LlamaConfig config, int seed, bool sharded)
    {
        using var scope = NewDisposeScope();
        using var model = new LlamaForCausalLM(config);
        using var g = new Generator((ulong)seed);
        using (no_grad())
        {
            foreach (var (name, p) in model.named_parameters())
            {
                // Module constructors draw their init from the global generator: overwrite every parameter.
                if (name.EndsWith("norm.weight", StringComparison.Ordinal)) p.copy_(1 + 0.1 * randn(p.shape, generator: g));
                else if (name == "model.embed_tokens.weight" || name.EndsWith(".bias", StringComparison.Ordinal)) p.copy_(0.1 * randn(p.shape, generator: g));
                else if (p.dim() >= 2) p.copy_((rand(p.shape, generator: g) * 2 - 1) / Math.Sqrt(p.shape[^1]));
                else p.copy_(0.1 * randn(p.shape, generator: g));
                if (name.EndsWith("o_proj.weight", StringComparison.Ordinal) || name.EndsWith("down_proj.weight", StringComparison.Ordinal)
                    || name.EndsWith(".w2.weight", StringComparison.Ordinal) || name.EndsWith("experts.down_proj", StringComparison.Ordinal)) p.mul_(3);
                // Mixture-of-Experts routers: wider logits, so tokens pick their experts clearly (few near-ties).
                else if (name.EndsWith(".gate.weight", StringComparison.Ordinal)) p.mul_(4);
            }
        }
        if (!sharded)
        {
            model.save_safetensors(Path.Combine(folder, "model.safetensors"));
            return;
        }
        var keys = model.state_dict().Keys.ToList();
        int half = keys.Count / 2;
        var shards = new[] { "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors" };
        model.save_safetensors(Path.Combine(folder, shards[0]), skip: keys.Skip(half).ToList());
        model.save_safetensors(Path.Combine(folder, shards[1]), skip: keys.Take(half).ToList());
        var weightMap = new JsonObject();
        for (int i = 0; i < keys.Count; i++) weightMap[keys[i]] = shards[i < half ? 0 : 1];
        var index = new JsonObject { ["metadata"] = new JsonObject(), ["weight_map"] = weightMap };
        File.WriteAllText(Path.Combine(folder, "model.safetensors.index.json"), index.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    private static int WriteByteLevelTokenizer(string folder, IReadOnlyList<string> specials, int mergeCount, int maxTokens)
    {
        var file = new ByteLevelBpeFile(specials);
        var words = Regex.Matches(Corpus, TokenizerLoader.Gpt2Pattern).Select(m => ByteLevel.Encode(Encoding.UTF8.GetBytes(m.Value)))
            .Select(w => w.Select(c => c.ToString()).ToList()).ToList();
        foreach (var (a, b) in TrainBpe(words, mergeCount))
        {
            if (file.Vocab.ContainsKey(a + b)) continue;
            if (file.NextId >= maxTokens) break;
            file.TryAddMerge(a, b);
        }
        file.Write(folder);
        return file.NextId;
    }

    /// <summary>Plain BPE training (Sennrich et al. 2016): repeatedly merge the most frequent adjacent pair.</summary>
    private static List<(string, string)> TrainBpe(List<List<string>> words, int count)
    {
        var merges = new List<(string, string)>();
        for (int step = 0; step < count; step++)
        {
            var freq = new Dictionary<(string, string), int>();
            foreach (var w in words)
                for (int i = 0; i + 1 < w.Count; i++)
                    freq[(w[i], w[i + 1])] = freq.GetValueOrDefault((w[i], w[i + 1])) + 1;
            if (freq.Count == 0) break;
            // Ties broken by ordinal order so the tokenizer is the same on every machine.
            var best = freq.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key.Item1, StringComparer.Ordinal).ThenBy(kv => kv.Key.Item2, StringComparer.Ordinal).First().Key;
            merges.Add(best);
            foreach (var w in words)
                for (int i = 0; i + 1 < w.Count; i++)
                    if (w[i] == best.Item1 && w[i + 1] == best.Item2) { w[i] += w[i + 1]; w.RemoveAt(i + 1); }
        }
        return merges;
    }

    /// <summary>
    /// Writes a SentencePiece BPE ModelProto (sentencepiece_model.proto, <see cref="SentencePieceModelProto"/>). Pieces: &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;,
    /// the 256 byte-fallback pieces, then merged pieces scored by merge rank.
    /// </summary>
    public static int WriteSentencePieceModel(string path, int mergeCount, int maxTokens = int.MaxValue)
    {
        var pieces = new List<(string Piece, float Score, int Type)> { ("<unk>", 0, 2), ("<s>", 0, 3), ("</s>", 0, 3) };
        for (int b = 0; b < 256; b++) pieces.Add(($"<0x{b:X2}>", 0, 6));
        var words = Corpus.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(w => ("\u2581" + w).EnumerateRunes().Select(r => r.ToString()).ToList()).ToList();
        var chars = words.SelectMany(w => w).Distinct().OrderBy(c => c, StringComparer.Ordinal).ToList();
        float score = 0;
        var known = new HashSet<string>(pieces.Select(p => p.Piece));
        // Single characters first (they must exist for BPE to build merges), then merges while room remains.
        foreach (var c in chars)
            if (known.Add(c)) pieces.Add((c, score -= 1, 1));
        foreach (var (a, b) in TrainBpe(words, mergeCount))
            if (pieces.Count < maxTokens && known.Add(a + b)) pieces.Add((a + b, score -= 1, 1));

        // byte_fallback on; unk 0, bos 1, eos 2, no pad; identity normalizer with a dummy prefix, spaces kept as they are.
        var proto = new SentencePieceModelProto(pieces.Select(p => p.Piece).ToList(), pieces.Select(p => p.Score).ToList(),
            pieces.Select(p => (GgufTokenType)p.Type).ToList(), ByteFallback: true, RemoveExtraWhitespaces: false);
        File.WriteAllBytes(path, proto.ToBytes());
        return pieces.Count;
    }
}
