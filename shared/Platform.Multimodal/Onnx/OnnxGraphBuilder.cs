using Google.Protobuf;
using Onnx;
using static TorchSharp.torch;

namespace Platform.Multimodal.Onnx;

/// <summary>
/// Builds an ONNX graph node by node with OnnxSharp's protobuf classes (TorchSharp has no ONNX exporter), for the
/// hand-written exporters of the image decoders. Each node's output is named after its op and a running counter;
/// weights become float initialisers named after their state-dict keys.
/// </summary>
public sealed class OnnxGraphBuilder(string graphName)
{
    private int _counter;

    public GraphProto Graph { get; } = new() { Name = graphName };

    /// <summary>Adds a node and returns the name of its (single) output.</summary>
    public string Node(string op, string[] inputs, params AttributeProto[] attributes)
    {
        var output = $"{op.ToLowerInvariant()}_{_counter++}";
        var node = new NodeProto { OpType = op, Name = output };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
        return output;
    }

    /// <summary>A float tensor initialiser (copied from <paramref name="t"/>).</summary>
    public string Init(string name, Tensor t)
    {
        using var c = t.detach().cpu().contiguous();
        var proto = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        proto.Dims.AddRange(c.shape);
        proto.RawData = ByteString.CopyFrom(c.bytes.ToArray());
        Graph.Initializer.Add(proto);
        return name;
    }

    /// <summary>An int64 initialiser: a 1-D tensor, or a scalar when there is one value and the name ends in "_scalar".</summary>
    public string Int64s(string name, params long[] values)
    {
        var proto = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        if (values.Length != 1 || !name.EndsWith("_scalar", StringComparison.Ordinal)) proto.Dims.Add(values.Length);
        proto.Int64Data.AddRange(values);
        Graph.Initializer.Add(proto);
        return name;
    }

    /// <summary>Renames the last node's output (the graph's output).</summary>
    public void NameLastOutput(string name) => Graph.Node[^1].Output[0] = name;

    public void Input(string name, TensorProto.Types.DataType type, params object[] dims) => Graph.Input.Add(TensorInfo(name, type, dims));

    public void Output(string name, TensorProto.Types.DataType type, params object[] dims) => Graph.Output.Add(TensorInfo(name, type, dims));

    /// <summary>Writes the model (IR version 7, the default domain at <paramref name="opset"/>) to <paramref name="path"/>.</summary>
    public void Save(string path, int opset)
    {
        var model = new ModelProto { IrVersion = 7, ProducerName = "Platform.Multimodal", ProducerVersion = "1", Graph = Graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var file = File.Create(path);
        model.WriteTo(file);
    }

    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    /// <summary>Dimensions are numbers or names of symbolic dimensions ("batch").</summary>
    private static ValueInfoProto TensorInfo(string name, TensorProto.Types.DataType type, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d is string p ? new TensorShapeProto.Types.Dimension { DimParam = p } : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d) });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }
}
