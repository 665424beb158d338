using Onnx;
using Platform.Multimodal.Models.Vq;
using static TorchSharp.torch;
using static Platform.Multimodal.Onnx.OnnxGraphBuilder;

namespace Platform.Multimodal.Onnx;

/// <summary>
/// Writes the VQ tokenizer's decoder (codebook lookup + <see cref="VqDecoder"/>) as an ONNX graph built node by node
/// with OnnxSharp's protobuf classes, like <see cref="DecoderOnnxExporter"/>. Opset 13; input "codes" int64
/// [batch, G, G], output "image" [batch, 3, S, S]: Gather (codebook rows), Transpose to [B, D, G, G], Conv, Relu,
/// ConvTranspose..., Sigmoid. The parity test compares it with the torch decoder on the same codes.
/// </summary>
public static class VqDecoderOnnxExporter
{
    public const string InputName = "codes";
    public const string OutputName = "image";
    public const int Opset = 13;

    public static void Export(VqTokenizer vq, string path)
    {
        var config = vq.Config;
        var graph = new OnnxGraphBuilder("vq_image_decoder");
        string Node(string op, string[] inputs, params AttributeProto[] attributes) => graph.Node(op, inputs, attributes);
        string Init(string name, Tensor t) => graph.Init(name, t);

        var d = vq.decoder;
        var h = Node("Gather", [Init("codebook.embedding", vq.codebook.embedding), InputName], Int("axis", 0));   // [B, G, G, D]
        h = Node("Transpose", [h], Ints("perm", 0, 3, 1, 2));
        h = Node("Conv", [h, Init("decoder.conv_in.weight", d.conv_in.weight!), Init("decoder.conv_in.bias", d.conv_in.bias!)],
            Ints("kernel_shape", 3, 3), Ints("pads", 1, 1, 1, 1));
        h = Node("Relu", [h]);
        for (int i = 0; i < d.up.Count; i++)
        {
            h = Node("ConvTranspose", [h, Init($"decoder.up.{i}.weight", d.up[i].weight!), Init($"decoder.up.{i}.bias", d.up[i].bias!)],
                Ints("kernel_shape", 4, 4), Ints("strides", 2, 2), Ints("pads", 1, 1, 1, 1));
            h = Node(i == d.up.Count - 1 ? "Sigmoid" : "Relu", [h]);
        }
        graph.NameLastOutput(OutputName);

        int g = config.GridSize, s = config.ImageSize;
        graph.Input(InputName, TensorProto.Types.DataType.Int64, "batch", g, g);
        graph.Output(OutputName, TensorProto.Types.DataType.Float, "batch", 3, s, s);
        graph.Save(path, Opset);
    }
}
