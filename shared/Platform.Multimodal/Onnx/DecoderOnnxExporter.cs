using Google.Protobuf;
using Onnx;
using Platform.Multimodal.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

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
        var graph = new GraphProto { Name = "gill_image_decoder" };
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
        string Int64s(string name, params long[] values)
        {
            var proto = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
            if (values.Length != 1 || !name.EndsWith("_scalar", StringComparison.Ordinal)) proto.Dims.Add(values.Length);
            proto.Int64Data.AddRange(values);
            graph.Initializer.Add(proto);
            return name;
        }
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
            graph.Node[^1].Output[0] = OutputName;
        }

        graph.Input.Add(TensorInfo(InputName, ["batch", q, config.ConditionDim]));
        graph.Output.Add(TensorInfo(OutputName, ["batch", 3, size, size]));
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

    private static ValueInfoProto TensorInfo(string name, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d is string p ? new TensorShapeProto.Types.Dimension { DimParam = p } : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d) });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }
}
