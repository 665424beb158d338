using static TorchSharp.torch;

namespace Platform.Inference.Quantization;

/// <summary>Frees the float32 storage of a weight whose inference copy is quantized.</summary>
internal static class FloatWeights
{
    /// <summary>
    /// Points <paramref name="weight"/> at one zero broadcast to its shape (stride 0): the shape stays for the
    /// code that reads it, the float32 data (4 bytes per weight, ~7x the Q4_0 copy) is released. The module is then
    /// inference-only; <see cref="Models.Llama.LlamaForCausalLM.Forward"/> refuses autograd.
    /// </summary>
    public static void Release(Tensor weight)
    {
        using var noGrad = no_grad();
        using var zero = zeros(1, dtype: weight.dtype, device: weight.device);
        using var placeholder = zero.expand(weight.shape);
        weight.set_(placeholder);
    }
}
