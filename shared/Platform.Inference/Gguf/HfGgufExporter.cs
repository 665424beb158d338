using System.Text.RegularExpressions;
using Platform.Inference.Engine;
using Platform.Inference.Loading;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;
using Platform.Inference.Quantization;
using Platform.Inference.Models.Moe;
using Platform.Inference.Models.Olmoe;
using Platform.Inference.Models.Qwen3;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Inference.Gguf;

/// <summary>What an export wrote.</summary>
public sealed record GgufExportResult(string Path, string Architecture, int TensorCount, long FileBytes, string VocabularyModel, string? VocabularyNote);

/// <summary>
/// Exports a Hugging Face Llama / Mistral / Qwen2 / Qwen3 / Phi-3 (and Mixture-of-Experts) checkpoint (config.json + safetensors + tokenizer.json or tokenizer.model) to a
/// float32 GGUF file that llama.cpp runs, following llama.cpp's convert_hf_to_gguf.py (LlamaModel, Qwen2Model):
/// the same metadata keys (gguf-py/gguf/constants.py), the same tensor names (tensor_mapping.py) and the same
/// q/k permutation for the "llama" architecture.
/// </summary>
public static partial class HfGgufExporter
{
    /// <summary>
    /// Exports the checkpoint in <paramref name="modelFolder"/> to <paramref name="outputPath"/>. The weights go
    /// through the engine's own loader (strict key and shape checks, bf16/f16 converted to float32), so what is
    /// exported is exactly what the engine runs.
    /// </summary>
    /// <exception cref="ModelLoadException">config.json or the weights are missing or inconsistent (the message names the file).</exception>
    public static GgufExportResult ExportFolder(string modelFolder, string outputPath, CancellationToken cancellationToken = default) =>
        ExportFolder(modelFolder, outputPath, QuantType.None, cancellationToken);

    /// <summary>As <see cref="ExportFolder(string, string, CancellationToken)"/>, with the linear weights stored as
    /// <paramref name="quantization"/> blocks (see <see cref="Export(LlamaConfig, IReadOnlyDictionary{string, Tensor}, GgufVocabulary?, string, string?, QuantType, CancellationToken)"/>).</summary>
    public static GgufExportResult ExportFolder(string modelFolder, string outputPath, QuantType quantization, CancellationToken cancellationToken = default)
    {
        var config = ModelLoader.ReadConfig(modelFolder);
        GgufVocabulary? vocab = null;
        string? note = null;
        try
        {
            vocab = GgufVocabulary.FromHuggingFace(modelFolder, config.VocabSize);
        }
        catch (Exception e) when (e is FileNotFoundException or NotSupportedException)
        {
            note = $"{e.Message} The file has no vocabulary (tokenizer.ggml.model = none): llama.cpp runs it from token ids only.";
        }
        catch (InvalidDataException e)
        {
            throw new ModelLoadException(e.Message, e);
        }

        using var scope = NewDisposeScope();
        using var model = new LlamaForCausalLM(config);
        ModelLoader.LoadWeights(model, modelFolder);
        string name = Path.GetFileName(Path.GetFullPath(modelFolder).TrimEnd(Path.DirectorySeparatorChar));
        var result = Export(config, model.state_dict(), vocab, outputPath, name, quantization, cancellationToken);
        return result with { VocabularyNote = note };
    }

    /// <summary>
    /// Exports a state dict with Hugging Face key names (e.g. from a loaded model's <c>state_dict()</c>).
    /// <paramref name="vocabulary"/> null writes tokenizer.ggml.model = "none" (token ids only).
    /// </summary>
    public static GgufExportResult Export(LlamaConfig config, IReadOnlyDictionary<string, Tensor> stateDict,
        GgufVocabulary? vocabulary, string outputPath, string? name = null, CancellationToken cancellationToken = default) =>
        Export(config, stateDict, vocabulary, outputPath, name, QuantType.None, cancellationToken);

    /// <summary>
    /// As above, with every 2-D weight stored in <paramref name="quantization"/>'s blocks by llama.cpp's reference
    /// quantizer (<see cref="BlockFormats"/>) and the output projection (token_embd when tied) in Q8_0, which is what
    /// llama.cpp's quantizer picks for it when the hidden size is not a multiple of 256 (it picks Q6_K otherwise,
    /// a format this project does not write). Norms and biases stay float32, as in llama.cpp's files.
    /// </summary>
    public static GgufExportResult Export(LlamaConfig config, IReadOnlyDictionary<string, Tensor> stateDict,
        GgufVocabulary? vocabulary, string outputPath, string? name, QuantType quantization, CancellationToken cancellationToken = default)
    {
        config.Validate();
        string arch = ArchitectureOf(config);
        int heads = config.NumAttentionHeads, kvHeads = config.KeyValueHeads, headDim = config.HeadDimension;
        int hidden = config.HiddenSize;

        var w = new GgufWriter();
        w.AddString("general.architecture", arch);
        w.AddString("general.name", string.IsNullOrWhiteSpace(name) ? arch : name);
        // LLAMA_FTYPE_ALL_F32, LLAMA_FTYPE_MOSTLY_Q8_0, LLAMA_FTYPE_MOSTLY_Q4_0 (llama.h).
        w.AddUInt32("general.file_type", quantization switch { QuantType.Q8_0 => 7u, QuantType.Q4_0 => 2u, _ => 0u });
        w.AddUInt32($"{arch}.vocab_size", (uint)config.VocabSize);
        w.AddUInt32($"{arch}.context_length", (uint)config.MaxPositionEmbeddings);
        w.AddUInt32($"{arch}.embedding_length", (uint)hidden);
        w.AddUInt32($"{arch}.block_count", (uint)config.NumHiddenLayers);
        w.AddUInt32($"{arch}.feed_forward_length", (uint)config.IntermediateSize);
        w.AddUInt32($"{arch}.attention.head_count", (uint)heads);
        w.AddUInt32($"{arch}.attention.head_count_kv", (uint)kvHeads);
        w.AddFloat32($"{arch}.rope.freq_base", (float)config.RopeTheta);
        w.AddFloat32($"{arch}.attention.layer_norm_rms_epsilon", (float)config.RmsNormEps);
        w.AddUInt32($"{arch}.rope.dimension_count", (uint)config.RotaryDimension);
        if (headDim * heads != hidden)
        {
            // llama.cpp assumes head_dim = n_embd / n_head unless told (LLM_KV_ATTENTION_KEY_LENGTH).
            w.AddUInt32($"{arch}.attention.key_length", (uint)headDim);
            w.AddUInt32($"{arch}.attention.value_length", (uint)headDim);
        }
        if (config is MoeConfig moe) AddExpertMetadata(w, arch, moe);
        if (config is Models.Phi3.Phi3Config phi3) AddPhi3Metadata(w, arch, phi3);
        Tensor? ropeFactors = null;
        if (config.RopeScaling is { } rs && rs.Type != "default")
        {
            if (rs.Type == "linear")
            {
                w.AddString($"{arch}.rope.scaling.type", "linear");
                w.AddFloat32($"{arch}.rope.scaling.factor", (float)rs.Factor);
            }
            else if (rs.Type == "llama3")
                ropeFactors = Llama3RopeFactors(config, rs);
        }

        if (vocabulary is null)
            w.AddString("tokenizer.ggml.model", "none");
        else
        {
            if (vocabulary.Tokens.Count != config.VocabSize)
                throw new InvalidDataException($"The vocabulary has {vocabulary.Tokens.Count} tokens but vocab_size is {config.VocabSize}.");
            vocabulary.WriteTo(w);
        }

        var tensors = MapTensors(config, stateDict, arch);
        if (ropeFactors is not null) tensors.Insert(0, ("rope_freqs.weight", ropeFactors));
        foreach (var (ggufName, tensor) in tensors)
        {
            var t = tensor;
            bool output = ggufName == "output.weight" || (ggufName == "token_embd.weight" && config.TieWordEmbeddings);
            var type = quantization == QuantType.None || t.dim() != 2 || t.shape[1] % BlockFormats.BlockSize != 0 ? QuantType.None
                : output ? QuantType.Q8_0 : quantization;
            if (type == QuantType.None)
                w.AddTensor(ggufName, GgufTensorType.F32, t.shape, s =>
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    WriteFloat32(s, t);
                });
            else
                w.AddTensor(ggufName, (GgufTensorType)(int)type, t.shape, s =>
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    WriteBlocks(s, t, type);
                });
        }
        w.WriteTo(outputPath);
        return new GgufExportResult(Path.GetFullPath(outputPath), arch, w.TensorCount, new FileInfo(outputPath).Length,
            vocabulary?.Model ?? "none", null);
    }

    /// <summary>
    /// HF names to GGUF names (gguf-py tensor_mapping.py), float32 and contiguous; for "llama" q/k rows permuted.
    /// Every tensor of the checkpoint must be used and every expected tensor present, with the configured shape.
    /// </summary>
    private static List<(string Name, Tensor Tensor)> MapTensors(LlamaConfig config, IReadOnlyDictionary<string, Tensor> sd, string arch)
    {
        int heads = config.NumAttentionHeads, kvHeads = config.KeyValueHeads, headDim = config.HeadDimension;
        long h = config.HiddenSize, ff = config.IntermediateSize, v = config.VocabSize;
        var used = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<(string, Tensor)>();

        Tensor Take(string key, params long[] shape)
        {
            if (!sd.TryGetValue(key, out var t))
                throw new InvalidDataException($"Tensor '{key}' is missing from the checkpoint.");
            if (!t.shape.SequenceEqual(shape))
                throw new InvalidDataException($"Tensor '{key}' has shape [{string.Join(", ", t.shape)}], expected [{string.Join(", ", shape)}] from config.json.");
            used.Add(key);
            return t.to_type(ScalarType.Float32).contiguous();
        }
        void Add(string ggufName, string key, params long[] shape) => result.Add((ggufName, Take(key, shape)));

        Add("token_embd.weight", "model.embed_tokens.weight", v, h);
        Add("output_norm.weight", "model.norm.weight", h);
        if (sd.ContainsKey("lm_head.weight") && !config.TieWordEmbeddings)
            Add("output.weight", "lm_head.weight", v, h);
        else if (!config.TieWordEmbeddings)
            throw new InvalidDataException("Tensor 'lm_head.weight' is missing and tie_word_embeddings is false.");
        else
            used.Add("lm_head.weight"); // tied: llama.cpp reuses token_embd when output.weight is absent

        bool permute = arch == "llama";
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            if (config is Models.Phi3.Phi3Config phi3)
            {
                result.AddRange(MapPhi3Layer(phi3, i, Take));
                continue;
            }
            string p = $"model.layers.{i}.", b = $"blk.{i}.";
            Add(b + "attn_norm.weight", p + "input_layernorm.weight", h);
            var q = Take(p + "self_attn.q_proj.weight", heads * headDim, h);
            var k = Take(p + "self_attn.k_proj.weight", kvHeads * headDim, h);
            result.Add((b + "attn_q.weight", permute ? RotateHalfToInterleaved(q, heads) : q));
            result.Add((b + "attn_k.weight", permute ? RotateHalfToInterleaved(k, kvHeads) : k));
            Add(b + "attn_v.weight", p + "self_attn.v_proj.weight", kvHeads * headDim, h);
            Add(b + "attn_output.weight", p + "self_attn.o_proj.weight", h, heads * headDim);
            if (config.HasQkvBias)
            {
                var qb = Take(p + "self_attn.q_proj.bias", heads * headDim);
                var kb = Take(p + "self_attn.k_proj.bias", kvHeads * headDim);
                result.Add((b + "attn_q.bias", permute ? RotateHalfToInterleaved(qb, heads) : qb));
                result.Add((b + "attn_k.bias", permute ? RotateHalfToInterleaved(kb, kvHeads) : kb));
                Add(b + "attn_v.bias", p + "self_attn.v_proj.bias", kvHeads * headDim);
            }
            if (config.HasOutputBias) Add(b + "attn_output.bias", p + "self_attn.o_proj.bias", h);
            if (config is OlmoeConfig)
            {
                Add(b + "attn_q_norm.weight", p + "self_attn.q_norm.weight", heads * headDim);
                Add(b + "attn_k_norm.weight", p + "self_attn.k_norm.weight", kvHeads * headDim);
            }
            else if (config is Qwen3Config)
            {
                // One head wide, shared by the heads (llama.cpp's qwen3 graph norms each head the same way).
                Add(b + "attn_q_norm.weight", p + "self_attn.q_norm.weight", headDim);
                Add(b + "attn_k_norm.weight", p + "self_attn.k_norm.weight", headDim);
            }
            Add(b + "ffn_norm.weight", p + "post_attention_layernorm.weight", h);
            if (config is MoeConfig moe)
            {
                result.AddRange(MapExperts(moe, i, Take));
                continue;
            }
            Add(b + "ffn_gate.weight", p + "mlp.gate_proj.weight", ff, h);
            Add(b + "ffn_up.weight", p + "mlp.up_proj.weight", ff, h);
            Add(b + "ffn_down.weight", p + "mlp.down_proj.weight", h, ff);
            if (config.MlpBias)
                throw new NotSupportedException("mlp_bias = true is not supported by llama.cpp's llama architecture export.");
        }

        var unused = sd.Keys.Where(k => !used.Contains(k) && !RotaryBuffer().IsMatch(k)).ToList();
        if (unused.Count > 0)
            throw new InvalidDataException($"The checkpoint has tensors this architecture does not use: {string.Join(", ", unused.Take(5))}{(unused.Count > 5 ? ", ..." : "")}.");
        return result;
    }

    /// <summary>
    /// HF Llama applies RoPE in "rotate half" form: dimension i of a head pairs with i + d/2. llama.cpp's
    /// "llama" architecture rotates adjacent pairs (2i, 2i+1) (LLAMA_ROPE_TYPE_NORM). Reordering the output rows
    /// of q_proj/k_proj per head, new row 2i+j = old row j*d/2 + i, makes the two equivalent; the attention scores
    /// do not change because q and k get the same permutation. This is convert_hf_to_gguf.py's LlamaModel.permute
    /// (reshape to [heads, 2, d/2, ...], swap axes 1 and 2). Qwen2 uses NEOX RoPE (rotate half) in llama.cpp,
    /// so its weights are written unchanged.
    /// </summary>
    internal static Tensor RotateHalfToInterleaved(Tensor weight, int heads)
    {
        long rows = weight.shape[0];
        long[] rest = weight.shape.Skip(1).ToArray();
        long[] split = [heads, 2, rows / heads / 2, .. rest];
        return weight.reshape(split).transpose(1, 2).reshape(weight.shape).contiguous();
    }

    /// <summary>Llama 3.x "llama3" rope_scaling as per-frequency divisors (GGUF tensor rope_freqs.weight), as
    /// convert_hf_to_gguf.py's LlamaModel.generate_extra_tensors computes them from the HF config.</summary>
    private static Tensor Llama3RopeFactors(LlamaConfig config, RopeScaling rs)
    {
        int dim = config.HeadDimension;
        double lowWavelen = rs.OriginalMaxPositionEmbeddings / rs.LowFreqFactor;
        double highWavelen = rs.OriginalMaxPositionEmbeddings / rs.HighFreqFactor;
        var factors = new float[dim / 2];
        for (int i = 0; i < dim / 2; i++)
        {
            double freq = 1.0 / Math.Pow(config.RopeTheta, 2.0 * i / dim);
            double wavelen = 2 * Math.PI / freq;
            if (wavelen < highWavelen) factors[i] = 1f;
            else if (wavelen > lowWavelen) factors[i] = (float)rs.Factor;
            else
            {
                double smooth = (rs.OriginalMaxPositionEmbeddings / wavelen - rs.LowFreqFactor) / (rs.HighFreqFactor - rs.LowFreqFactor);
                factors[i] = (float)(1.0 / ((1 - smooth) / rs.Factor + smooth));
            }
        }
        return tensor(factors);
    }

    private static void WriteBlocks(Stream s, Tensor t, QuantType type)
    {
        int rows = (int)t.shape[0], cols = (int)t.shape[1];
        var floats = t.to_type(ScalarType.Float32).cpu().contiguous();
        var values = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(floats.bytes);
        var row = new byte[BlockFormats.RowBytes(type, cols)];
        for (int r = 0; r < rows; r++)
        {
            BlockFormats.Quantize(type, values.Slice(r * cols, cols), row);
            s.Write(row);
        }
    }

    private static void WriteFloat32(Stream s, Tensor t)
    {
        if (t.dtype != ScalarType.Float32 || !t.is_contiguous() || t.device_type != DeviceType.CPU)
            t = t.to_type(ScalarType.Float32).cpu().contiguous();
        // Tensor.bytes is a span over the tensor's storage; a span holds at most 2 GiB, so big tensors go in slices.
        const long chunk = 1L << 28; // elements
        if (t.numel() <= chunk) { s.Write(t.bytes); return; }
        using var flat = t.view(-1);
        for (long off = 0; off < flat.numel(); off += chunk)
        {
            using var part = flat.narrow(0, off, Math.Min(chunk, flat.numel() - off));
            s.Write(part.bytes);
        }
    }

    [GeneratedRegex(@"(^|\.)rotary_emb\.inv_freq$")]
    private static partial Regex RotaryBuffer();
}
