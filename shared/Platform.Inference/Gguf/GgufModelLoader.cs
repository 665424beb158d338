using Platform.Inference.Chat;
using Platform.Inference.Engine;
using Platform.Inference.Loading;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;
using Platform.Inference.Models.Phi3;
using Platform.Inference.Models.Qwen3;
using Platform.Inference.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Inference.Gguf;

/// <summary>
/// Loads a GGUF file (what llama.cpp and Ollama users have) into the engine's model: the "llama", "qwen2", "qwen3" and
/// "phi3" architectures, F32 / F16 / Q8_0 / Q4_0 tensors, the tokenizer and chat template from the metadata. Quantized
/// linear weights keep their blocks as stored (<see cref="QuantizedMatrix"/>), so the engine multiplies the very
/// bytes llama.cpp does. Names and layouts are the inverse of <see cref="HfGgufExporter"/> (llama.cpp's
/// convert_hf_to_gguf.py): the "llama" architecture's q/k rows are permuted back to Hugging Face's rotate-half order.
/// </summary>
public static class GgufModelLoader
{
    /// <summary>True when <paramref name="path"/> names a GGUF file (rather than a Hugging Face folder).</summary>
    public static bool IsGguf(string path) => path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) && !Directory.Exists(path);

    public static LoadedModel Load(string path, string device = "cpu", string? chatTemplate = null)
    {
        GgufReader gguf;
        try { gguf = GgufReader.Open(path); }
        catch (Exception e) when (e is InvalidDataException or FileNotFoundException) { throw new ModelLoadException(e.Message, e); }
        var config = ReadConfig(gguf);
        var tokenizer = GgufTokenizer.Load(gguf);
        var tokens = gguf.Metadata["tokenizer.ggml.tokens"].AsArray<string>();
        string? templateText = gguf.Metadata.TryGetValue("tokenizer.chat_template", out var ct) ? ct.AsString() : null;
        var template = ChatTemplateSelector.Select($"{path} (tokenizer.chat_template)", templateText,
            GgufTokenizer.TokenText(gguf, "tokenizer.ggml.bos_token_id", tokens), GgufTokenizer.TokenText(gguf, "tokenizer.ggml.eos_token_id", tokens),
            chatTemplate, tokenizer.TokenToId);

        var model = new LlamaForCausalLM(config);
        Device dev;
        try
        {
            LoadWeights(model, gguf);
            model.eval();
            dev = torch.device(device);
            if (dev.type != DeviceType.CPU)
            {
                if (model.IsQuantized) throw new ModelLoadException($"{path}: quantized weights run on the CPU only (device '{device}' asked)");
                model.to(dev);
            }
        }
        catch (Exception e)
        {
            model.Dispose();
            if (e is ModelLoadException) throw;
            throw new ModelLoadException($"{path}: cannot load: {e.Message}", e);
        }
        var eos = new[] { GgufTokenizer.TokenId(gguf, "tokenizer.ggml.eos_token_id"), GgufTokenizer.TokenId(gguf, "tokenizer.ggml.eot_token_id") }
            .OfType<int>().Distinct().ToArray();
        return new LoadedModel
        {
            Folder = path, Config = config, Model = model, Tokenizer = tokenizer, ChatTemplate = template,
            GenerationConfig = new GenerationConfig(), Device = dev, EosTokenIds = eos,
        };
    }

    /// <summary>The Hugging Face config equivalent to the file's {arch}.* metadata (llama.cpp's llama-model.cpp keys).</summary>
    public static LlamaConfig ReadConfig(GgufReader gguf)
    {
        var md = gguf.Metadata;
        string arch = md.TryGetValue("general.architecture", out var a) ? a.AsString() : "";
        if (arch is not ("llama" or "qwen2" or "qwen3" or "phi3"))
            throw new ModelLoadException($"{gguf.Path}: architecture '{arch}' is not supported (llama, qwen2, qwen3, phi3)");
        long Int(string key, long? fallback = null) =>
            md.TryGetValue($"{arch}.{key}", out var v) && v.Type != GgufValueType.Array ? Convert.ToInt64(v.Value)
            : fallback ?? throw new ModelLoadException($"{gguf.Path}: metadata {arch}.{key} is missing");
        double Real(string key, double fallback) => md.TryGetValue($"{arch}.{key}", out var v) && v.Type != GgufValueType.Array ? Convert.ToDouble(v.Value) : fallback;
        if (gguf.Tensors.Any(t => t.Name == "rope_freqs.weight"))
            throw new ModelLoadException($"{gguf.Path}: per-frequency rope factors (rope_freqs.weight, Llama 3.1+ rope scaling) are not supported yet");
        if (md.ContainsKey($"{arch}.rope.scaling.type"))
            throw new ModelLoadException($"{gguf.Path}: {arch}.rope.scaling.type is not supported yet");
        var embed = gguf.Tensors.FirstOrDefault(t => t.Name == "token_embd.weight")
            ?? throw new ModelLoadException($"{gguf.Path}: tensor token_embd.weight is missing");
        int hidden = (int)Int("embedding_length"), heads = (int)Int("attention.head_count");
        if (arch == "phi3" && gguf.Tensors.Any(t => t.Name.StartsWith("rope_factors_", StringComparison.Ordinal)))
            throw new ModelLoadException($"{gguf.Path}: per-frequency rope factors (rope_factors_long/short, Phi-3 longrope scaling) are not supported");
        LlamaConfig family = arch switch
        {
            "qwen3" => new Qwen3Config(),
            "phi3" => new Phi3Config(),
            _ => new LlamaConfig { Architectures = [arch == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"] },
        };
        var config = family with
        {
            ModelType = arch,
            VocabSize = (int)embed.Dimensions[1],
            HiddenSize = hidden,
            IntermediateSize = (int)Int("feed_forward_length"),
            NumHiddenLayers = (int)Int("block_count"),
            NumAttentionHeads = heads,
            NumKeyValueHeads = (int)Int("attention.head_count_kv", heads),
            HeadDim = md.ContainsKey($"{arch}.attention.key_length") ? (int)Int("attention.key_length") : null,
            MaxPositionEmbeddings = (int)Int("context_length", 2048),
            RmsNormEps = Real("attention.layer_norm_rms_epsilon", 1e-5),
            RopeTheta = Real("rope.freq_base", 10000),
            TieWordEmbeddings = gguf.Tensors.All(t => t.Name != "output.weight"),
            AttentionBias = arch is "llama" or "qwen3" && gguf.Tensors.Any(t => t.Name == "blk.0.attn_q.bias"),
        };
        if (config is Phi3Config phi3)
        {
            // rope.dimension_count = int(partial_rotary_factor x hidden) / heads (convert_hf_to_gguf.py Phi3MiniModel).
            int rotary = (int)Int("rope.dimension_count", config.HeadDimension);
            long window = Int("attention.sliding_window", 0);
            config = phi3 with
            {
                PartialRotaryFactor = (double)rotary / config.HeadDimension,
                OriginalMaxPositionEmbeddings = (int)Int("rope.scaling.original_context_length", config.MaxPositionEmbeddings),
                SlidingWindow = window > 0 ? (int)window : null,
            };
            if (config.RotaryDimension != rotary)
                throw new ModelLoadException($"{gguf.Path}: {arch}.rope.dimension_count {rotary} is not a fraction of head_dim {config.HeadDimension} the engine can express");
        }
        try { config.Validate(); }
        catch (ArgumentException e) { throw new ModelLoadException($"{gguf.Path}: {e.Message}", e); }
        return config;
    }

    /// <summary>Every tensor into the module: float ones into the parameters, quantized linear weights kept as blocks.</summary>
    private static void LoadWeights(LlamaForCausalLM model, GgufReader gguf)
    {
        var config = model.Config;
        bool permute = config.Architecture == "LlamaForCausalLM";
        var used = new HashSet<string>(StringComparer.Ordinal);
        using var noGrad = no_grad();

        GgufTensorInfo Info(string name, params long[] shape)
        {
            var t = gguf.Tensors.FirstOrDefault(x => x.Name == name) ?? throw new ModelLoadException($"{gguf.Path}: tensor {name} is missing");
            if (!t.TorchShape.SequenceEqual(shape))
                throw new ModelLoadException($"{gguf.Path}: tensor {name} has shape [{string.Join(", ", t.TorchShape)}], the metadata implies [{string.Join(", ", shape)}]");
            if (t.Type is not (GgufTensorType.F32 or GgufTensorType.F16 or GgufTensorType.Q8_0 or GgufTensorType.Q4_0))
                throw new ModelLoadException($"{gguf.Path}: tensor {name} has type {(uint)t.Type}; supported: F32, F16, Q8_0, Q4_0");
            used.Add(name);
            return t;
        }
        // Rows [rows, rowBytes] of raw data, with the llama q/k rows put back in rotate-half order.
        byte[] Raw(GgufTensorInfo t, int heads)
        {
            var data = gguf.ReadBytes(t);
            return heads > 0 ? InterleavedToRotateHalf(data, heads, (int)t.TorchShape[0]) : data;
        }
        float[] Floats(GgufTensorInfo t, int heads = 0) => ToFloats(t, Raw(t, heads));
        void Copy(Tensor target, GgufTensorInfo t, int heads = 0)
        {
            using var src = tensor(Floats(t, heads)).view(target.shape);
            target.copy_(src);
        }
        QuantizedMatrix? Quant(GgufTensorInfo t, int heads = 0) =>
            t.Type is GgufTensorType.Q8_0 or GgufTensorType.Q4_0
                ? QuantizedMatrix.FromBlocks(Raw(t, heads), (int)t.TorchShape[0], (int)t.TorchShape[1], (QuantType)(int)t.Type) : null;

        long h = config.HiddenSize, ff = config.IntermediateSize, v = config.VocabSize;
        int nh = config.NumAttentionHeads, kvh = config.KeyValueHeads, hd = config.HeadDimension;
        var embed = Info("token_embd.weight", v, h);
        Copy(model.model.embed_tokens.weight!, embed);
        Copy(model.model.norm.weight, Info("output_norm.weight", h));
        var headInfo = config.TieWordEmbeddings ? embed : Info("output.weight", v, h);
        if (!config.TieWordEmbeddings && headInfo.Type is GgufTensorType.F32 or GgufTensorType.F16) Copy(model.lm_head!.weight!, headInfo);

        var layerTypes = new HashSet<QuantType>();
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            var layer = (LlamaDecoderLayer)model.model.layers[i]; // GGUF configs here are dense (llama, qwen2, qwen3, phi3)
            string b = $"blk.{i}.";
            Copy(layer.input_layernorm.weight, Info(b + "attn_norm.weight", h));
            Copy(layer.post_attention_layernorm.weight, Info(b + "ffn_norm.weight", h));
            var att = layer.self_attn;
            if (att is Phi3Attention phi3 && layer.mlp is Phi3MLP phi3Mlp)
            {
                // llama.cpp's phi3 tensors are the checkpoint's fused ones: attn_qkv (q, k, v rows) and ffn_up (gate, up rows).
                var qkv = Info(b + "attn_qkv.weight", (nh + 2 * kvh) * hd, h);
                var output = Info(b + "attn_output.weight", h, nh * hd);
                var gateUp = Info(b + "ffn_up.weight", 2 * ff, h);
                var ffnDown = Info(b + "ffn_down.weight", h, ff);
                if (Group(gguf, [qkv, output]) is { } pa)
                {
                    phi3.SetQuantized(Quant(qkv)!, Quant(output)!);
                    layerTypes.Add(pa);
                }
                else
                {
                    Copy(phi3.qkv_proj.weight!, qkv);
                    Copy(phi3.o_proj.weight!, output);
                }
                if (Group(gguf, [gateUp, ffnDown]) is { } pm)
                {
                    phi3Mlp.SetQuantized(Quant(gateUp)!, Quant(ffnDown)!);
                    layerTypes.Add(pm);
                }
                else
                {
                    Copy(phi3Mlp.gate_up_proj.weight!, gateUp);
                    Copy(phi3Mlp.down_proj.weight!, ffnDown);
                }
                continue;
            }
            var q = Info(b + "attn_q.weight", nh * hd, h);
            var k = Info(b + "attn_k.weight", kvh * hd, h);
            var vv = Info(b + "attn_v.weight", kvh * hd, h);
            var o = Info(b + "attn_output.weight", h, nh * hd);
            if (config.HasQkvBias)
            {
                Copy(att.q_proj.bias!, Info(b + "attn_q.bias", nh * hd), permute ? nh : 0);
                Copy(att.k_proj.bias!, Info(b + "attn_k.bias", kvh * hd), permute ? kvh : 0);
                Copy(att.v_proj.bias!, Info(b + "attn_v.bias", kvh * hd));
            }
            if (config.HasOutputBias) Copy(att.o_proj.bias!, Info(b + "attn_output.bias", h));
            if (att is Qwen3Attention qwen3)
            {
                Copy(qwen3.q_norm.weight, Info(b + "attn_q_norm.weight", hd));
                Copy(qwen3.k_norm.weight, Info(b + "attn_k_norm.weight", hd));
            }
            var gate = Info(b + "ffn_gate.weight", ff, h);
            var up = Info(b + "ffn_up.weight", ff, h);
            var down = Info(b + "ffn_down.weight", h, ff);

            if (Group(gguf, [q, k, vv, o]) is { } at)
            {
                using var qm = Quant(q, permute ? nh : 0)!;
                using var km = Quant(k, permute ? kvh : 0)!;
                using var vm = Quant(vv)!;
                att.SetQuantized(QuantizedMatrix.ConcatRows([qm, km, vm]), Quant(o)!);
                layerTypes.Add(at);
            }
            else
            {
                Copy(att.q_proj.weight!, q, permute ? nh : 0);
                Copy(att.k_proj.weight!, k, permute ? kvh : 0);
                Copy(att.v_proj.weight!, vv);
                Copy(att.o_proj.weight!, o);
            }
            if (Group(gguf, [gate, up, down]) is { } mt)
            {
                using var gm = Quant(gate)!;
                using var um = Quant(up)!;
                layer.mlp.SetQuantized(QuantizedMatrix.ConcatRows([gm, um]), Quant(down)!);
                layerTypes.Add(mt);
            }
            else
            {
                Copy(layer.mlp.gate_proj.weight!, gate);
                Copy(layer.mlp.up_proj.weight!, up);
                Copy(layer.mlp.down_proj.weight!, down);
            }
        }
        if (Quant(headInfo) is { } headQ) model.SetQuantizedHead(headQ);
        if (layerTypes.Count > 0) model.MarkQuantized(layerTypes.Count == 1 ? layerTypes.First() : QuantType.Q4_0);

        var unused = gguf.Tensors.Where(t => !used.Contains(t.Name)).Select(t => t.Name).ToList();
        if (unused.Count > 0)
            throw new ModelLoadException($"{gguf.Path}: tensors this architecture does not use: {string.Join(", ", unused.Take(5))}{(unused.Count > 5 ? ", ..." : "")}");
    }

    /// <summary>The shared quantized type of a group of weights that run fused, null when they are all float; a mix
    /// (some quantized, some not, or two quantized types) is refused.</summary>
    private static QuantType? Group(GgufReader gguf, GgufTensorInfo[] tensors)
    {
        bool IsQuant(GgufTensorInfo t) => t.Type is GgufTensorType.Q8_0 or GgufTensorType.Q4_0;
        if (tensors.All(t => !IsQuant(t))) return null;
        if (tensors.Any(t => t.Type != tensors[0].Type))
            throw new ModelLoadException($"{gguf.Path}: tensors {string.Join(", ", tensors.Select(t => $"{t.Name} ({t.Type})"))} mix types; the engine needs one quantized type per layer block");
        return (QuantType)(int)tensors[0].Type;
    }

    private static float[] ToFloats(GgufTensorInfo t, byte[] data)
    {
        var result = new float[checked((long)t.ElementCount)];
        switch (t.Type)
        {
            case GgufTensorType.F32:
                Buffer.BlockCopy(data, 0, result, 0, data.Length);
                break;
            case GgufTensorType.F16:
                for (long i = 0; i < result.Length; i++) result[i] = (float)BitConverter.UInt16BitsToHalf((ushort)(data[2 * i] | (data[2 * i + 1] << 8)));
                break;
            default:
                BlockFormats.Dequantize((QuantType)(int)t.Type, data, result);
                break;
        }
        return result;
    }

    /// <summary>
    /// Undoes convert_hf_to_gguf.py's LlamaModel.permute on whole rows (a row's bytes, of any type, move as one):
    /// Hugging Face row h*d + j*d/2 + i is GGUF row h*d + 2i + j (see <see cref="HfGgufExporter.RotateHalfToInterleaved"/>).
    /// </summary>
    internal static byte[] InterleavedToRotateHalf(byte[] data, int heads, int rows)
    {
        int rowBytes = data.Length / rows, d = rows / heads, half = d / 2;
        var result = new byte[data.Length];
        for (int r = 0; r < rows; r++)
        {
            int head = r / d, rem = r % d, j = rem / half, i = rem % half;
            int source = head * d + 2 * i + j;
            Buffer.BlockCopy(data, source * rowBytes, result, r * rowBytes, rowBytes);
        }
        return result;
    }
}
