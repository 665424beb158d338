using Platform.Inference.Quantization;

namespace Platform.Inference.Models.Llama;

public partial class LlamaMLP
{
    private QuantizedMatrix? _gateUpQ, _downQ;

    /// <summary>The fused gate/up and down_proj weights in their quantized inference form (null when float32).</summary>
    internal IEnumerable<QuantizedMatrix> QuantizedWeights => new[] { _gateUpQ, _downQ }.OfType<QuantizedMatrix>();

    /// <summary>Quantizes the fused gate/up and down_proj weights with llama.cpp's reference quantizer.</summary>
    internal void Quantize(QuantType type)
    {
        if (_gateUpQ is not null) return;
        Fuse();
        SetQuantized(
            QuantizedMatrix.Quantize(RowKernels.Floats(_gateUp!), (int)_gateUp!.shape[0], (int)_gateUp.shape[1], type),
            QuantizedMatrix.Quantize(RowKernels.Floats(down_proj.weight!.contiguous()), (int)down_proj.weight!.shape[0], (int)down_proj.weight.shape[1], type));
    }

    /// <summary>Takes quantized weights (gate rows then up rows) and releases the float32 ones.</summary>
    internal void SetQuantized(QuantizedMatrix gateUp, QuantizedMatrix down)
    {
        Fuse();
        if (gateUp.Rows != _gateUp!.shape[0] || gateUp.Cols != _gateUp.shape[1] || down.Rows != down_proj.weight!.shape[0] || down.Cols != down_proj.weight.shape[1])
            throw new ArgumentException($"quantized MLP weights [{gateUp.Rows}, {gateUp.Cols}] and [{down.Rows}, {down.Cols}] do not match the layer");
        _gateUpQ = gateUp;
        _downQ = down;
        foreach (var w in new[] { gate_proj.weight!, up_proj.weight!, down_proj.weight!, _gateUp }) FloatWeights.Release(w);
    }
}
