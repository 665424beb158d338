using Google.Protobuf;
using Onnx;
using Platform.Multimodal.Models.Vq;
using static TorchSharp.torch;

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
        var graph = new GraphProto { Name = "vq_image_decoder" };
        int counter = 0;
        string Node(string op, string[] inputs, params AttributeProto[] attributes)
        {
            var output = $"{op.ToLowerInvariant()}_{counter++}";
            var node = new NodeProto { OpType = op, Name = output };
            node.Input.AddRange(inputs);
            node.Output.Add(output);
            node.Attribute.AddRange(attributes);
            graph.Node.Add(node);
            return output;
        }
        string Init(string name, Tensor t)
        {
            using var c = t.detach().cpu().contiguous();
            var proto = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
            proto.Dims.AddRange(c.shape);
            proto.RawData = ByteString.CopyFrom(c.bytes.ToArray());
            graph.Initializer.Add(proto);
            return name;
        }

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
        graph.Node[^1].Output[0] = OutputName;

        int g = config.GridSize, s = config.ImageSize;
        graph.Input.Add(TensorInfo(InputName, TensorProto.Types.DataType.Int64, ["batch", g, g]));
        graph.Output.Add(TensorInfo(OutputName, TensorProto.Types.DataType.Float, ["batch", 3, s, s]));
        var model = new ModelProto { IrVersion = 7, ProducerName = "Platform.Multimodal", ProducerVersion = "1", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var file = File.Create(path);
        model.WriteTo(file);
    }

    private static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    private static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    private static ValueInfoProto TensorInfo(string name, TensorProto.Types.DataType type, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var dim in dims)
            shape.Dim.Add(dim is string p ? new TensorShapeProto.Types.Dimension { DimParam = p } : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(dim) });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }
}
