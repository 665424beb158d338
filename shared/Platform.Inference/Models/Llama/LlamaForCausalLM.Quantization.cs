using Platform.Inference.Quantization;
using static TorchSharp.torch;

namespace Platform.Inference.Models.Llama;

public sealed partial class LlamaForCausalLM
{
    private QuantizedMatrix? _headQ;

    /// <summary>The type of the decoder layers' linear weights (<see cref="QuantType.None"/> = float32).</summary>
    public QuantType WeightType { get; private set; } = QuantType.None;

    /// <summary>True when some linear weight runs quantized; the model is then inference-only.</summary>
    public bool IsQuantized => WeightType != QuantType.None || _headQ is not null;

    /// <summary>Bytes of all quantized weights.</summary>
    public long QuantizedBytes => QuantizedWeights.Sum(q => q.Bytes);

    private IEnumerable<QuantizedMatrix> QuantizedWeights =>
        model.layers.SelectMany(l => l.self_attn.QuantizedWeights.Concat(l is LlamaDecoderLayer d ? d.mlp.QuantizedWeights : [])).Concat(new[] { _headQ }.OfType<QuantizedMatrix>());

    /// <summary>
    /// Quantizes every decoder linear weight to <paramref name="type"/> with llama.cpp's reference quantizer, and the
    /// output projection to Q8_0 (what llama.cpp's quantizer picks for it at Q8_0 and, when the hidden size is not a
    /// multiple of 256, at Q4_0). The token embedding stays float32 (a lookup reads one row per token). Fuses
    /// first; the float32 copies are released. <see cref="QuantType.None"/> does nothing.
    /// </summary>
    public void QuantizeForInference(QuantType type)
    {
        if (type == QuantType.None || WeightType != QuantType.None) return;
        using var noGrad = no_grad();
        // Block quantization covers the dense feed-forward; a Mixture-of-Experts layer's experts stay float32 for now,
        // so such a model is refused before anything changes.
        if (model.layers.Any(l => l is not LlamaDecoderLayer))
            throw new NotSupportedException($"{type} quantization supports dense decoder layers only; this model has Mixture-of-Experts layers (use Engine:Quantization=none).");
        FuseForInference();
        foreach (var layer in model.layers.Cast<LlamaDecoderLayer>())
        {
            layer.self_attn.Quantize(type);
            layer.mlp.Quantize(type);
        }
        WeightType = type;
        if (_headQ is null)
        {
            var head = LmHeadWeight.contiguous();
            SetQuantizedHead(QuantizedMatrix.Quantize(RowKernels.Floats(head), (int)head.shape[0], (int)head.shape[1], QuantType.Q8_0));
        }
    }

    /// <summary>Records that the layers' weights were set quantized (by a GGUF load) as <paramref name="type"/>.</summary>
    internal void MarkQuantized(QuantType type)
    {
        FuseForInference();
        WeightType = type;
    }

    /// <summary>The output projection in quantized form; an untied lm_head's float32 weight is released (a tied one
    /// is the embedding table, still read by the lookup).</summary>
    internal void SetQuantizedHead(QuantizedMatrix head)
    {
        if (head.Rows != Config.VocabSize || head.Cols != Config.HiddenSize)
            throw new ArgumentException($"quantized output projection [{head.Rows}, {head.Cols}] does not match [{Config.VocabSize}, {Config.HiddenSize}]");
        _headQ = head;
        if (lm_head is not null) FloatWeights.Release(lm_head.weight!);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            foreach (var q in QuantizedWeights.ToList()) q.Dispose();
        base.Dispose(disposing);
    }
}
