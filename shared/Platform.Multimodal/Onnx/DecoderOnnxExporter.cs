using Onnx;
using Platform.Multimodal.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static Platform.Multimodal.Onnx.OnnxGraphBuilder;

namespace Platform.Multimodal.Onnx;

/// <summary>
/// Writes <see cref="ImageDecoder"/> as an ONNX graph built node by node with OnnxSharp's protobuf classes
/// (TorchSharp has no ONNX exporter). Opset 13; input "conditioning" [batch, slots, dim], output "image"
/// [batch, 3, S, S]. Every node mirrors one line of <see cref="ImageDecoder.Forward"/>; the parity test compares
/// the two on the same inputs.
/// </summary>
public static class DecoderOnnxExporter
{
    public const string InputName = "conditioning";
    public const string OutputName = "image";
    public const int Opset = 13;

    public static void Export(ImageDecoder decoder, string path)
    {
        var config = decoder.Config;
        var builder = new OnnxGraphBuilder("gill_image_decoder");
        string Node(string op, string[] inputs, params AttributeProto[] attributes) => builder.Node(op, inputs, attributes);
        string Init(string name, Tensor t) => builder.Init(name, t);
        string Int64s(string name, params long[] values) => builder.Int64s(name, values);
        string Gemm(string x, Linear l, string name) =>
            Node("Gemm", [x, Init(name + ".weight", l.weight!), Init(name + ".bias", l.bias!)], Int("transB", 1));
        string ConvT(string x, ConvTranspose2d c, string name) =>
            Node("ConvTranspose", [x, Init(name + ".weight", c.weight!), Init(name + ".bias", c.bias!)],
                Ints("kernel_shape", 4, 4), Ints("strides", 2, 2), Ints("pads", 1, 1, 1, 1));

        int size = config.ImageSize, q = config.ConditionSlots;
        var flat = Node("Reshape", [InputName, Int64s("flat_shape", -1, config.ConditionDim)]);
        var h = Node("Relu", [Gemm(flat, decoder.mask_fc1, "mask_fc1")]);
        h = Node("Relu", [Gemm(h, decoder.mask_fc2, "mask_fc2")]);
        h = Node("Reshape", [h, Int64s("base_shape", -1, ImageDecoder.BaseChannels, ImageDecoder.BaseSize(config), ImageDecoder.BaseSize(config))]);
        var logits = ConvT(h, decoder.mask_up, "mask_up");
        var alpha = Node("Reshape", [Node("Sigmoid", [logits]), Int64s("alpha_shape", -1, q, 1, size, size)]);
        var colour = Node("Reshape", [Node("Sigmoid", [Gemm(flat, decoder.colour_fc, "colour_fc")]), Int64s("colour_shape", -1, q, 3, 1, 1)]);
        using (no_grad())
        {
            using var bg = decoder.background.sigmoid().reshape(1, 3, 1, 1);
            var image = Init("background", bg);
            for (int s = 0; s < q; s++)
            {
                var index = Int64s($"slot{s}_scalar", s);
                var a = Node("Gather", [alpha, index], Int("axis", 1));
                var c = Node("Gather", [colour, index], Int("axis", 1));
                image = Node("Add", [image, Node("Mul", [a, Node("Sub", [c, image])])]);
            }
            builder.NameLastOutput(OutputName);
        }

        builder.Input(InputName, TensorProto.Types.DataType.Float, "batch", q, config.ConditionDim);
        builder.Output(OutputName, TensorProto.Types.DataType.Float, "batch", 3, size, size);
        builder.Save(path, Opset);
    }
}
