using Platform.Inference.Quantization;

namespace Platform.Inference.Models.Llama;

public partial class LlamaAttention
{
    private QuantizedMatrix? _qkvQ, _oQ;

    /// <summary>The fused q/k/v and o_proj weights in their quantized inference form (null when float32).</summary>
    internal IEnumerable<QuantizedMatrix> QuantizedWeights => new[] { _qkvQ, _oQ }.OfType<QuantizedMatrix>();

    /// <summary>Quantizes the fused q/k/v and o_proj weights with llama.cpp's reference quantizer.</summary>
    internal void Quantize(QuantType type)
    {
        if (_qkvQ is not null) return;
        Fuse();
        SetQuantized(
            QuantizedMatrix.Quantize(RowKernels.Floats(_qkv!), (int)_qkv!.shape[0], (int)_qkv.shape[1], type),
            QuantizedMatrix.Quantize(RowKernels.Floats(o_proj.weight!.contiguous()), (int)o_proj.weight!.shape[0], (int)o_proj.weight.shape[1], type));
    }

    /// <summary>
    /// Takes quantized weights (rows in HF order: q heads, k heads, v heads) and releases the float32 ones.
    /// Biases stay float32 (llama.cpp adds them in float32 too).
    /// </summary>
    internal void SetQuantized(QuantizedMatrix qkv, QuantizedMatrix output)
    {
        Fuse();
        if (qkv.Rows != _qkv!.shape[0] || qkv.Cols != _qkv.shape[1] || output.Rows != o_proj.weight!.shape[0] || output.Cols != o_proj.weight.shape[1])
            throw new ArgumentException($"quantized attention weights [{qkv.Rows}, {qkv.Cols}] and [{output.Rows}, {output.Cols}] do not match the layer");
        _qkvQ = qkv;
        _oQ = output;
        foreach (var w in new[] { q_proj.weight!, k_proj.weight!, v_proj.weight!, o_proj.weight!, _qkv }) FloatWeights.Release(w);
    }
}
