using System.Text;
using Platform.Inference.Gguf;

namespace Platform.Inference.Tests.Gguf;

public sealed class GgufWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gguf-writer-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void WriteTo_MetadataAndTensors_ReadsBackWithAlignedOffsets()
    {
        string path = Path.Combine(_dir, "a.gguf");
        float[] small = [1f, -2f, 3.5f];                                    // 12 bytes: next tensor needs padding
        float[] matrix = Enumerable.Range(0, 5 * 7).Select(i => i * 0.25f).ToArray();
        new GgufWriter()
            .AddString("general.architecture", "llama")
            .AddUInt32("llama.block_count", 2)
            .AddFloat32("llama.rope.freq_base", 10000f)
            .AddBool("tokenizer.ggml.add_bos_token", true)
            .AddStringArray("tokenizer.ggml.tokens", ["a", "ü", "<s>"])
            .AddInt32Array("tokenizer.ggml.token_type", [1, 1, 3])
            .AddTensor("small.weight", small, 3)
            .AddTensor("blk.0.attn_q.weight", matrix, 5, 7)
            .WriteTo(path);

        byte[] raw = File.ReadAllBytes(path);
        Assert.Equal("GGUF", Encoding.ASCII.GetString(raw, 0, 4));
        Assert.Equal(3u, BitConverter.ToUInt32(raw, 4));
        Assert.Equal(2ul, BitConverter.ToUInt64(raw, 8));   // tensor count
        Assert.Equal(7ul, BitConverter.ToUInt64(raw, 16));  // 6 keys + general.alignment

        var r = GgufReader.Open(path);
        Assert.Equal(3u, r.Version);
        Assert.Equal(32u, r.Alignment);
        Assert.Equal(32u, r.Metadata["general.alignment"].AsUInt32());
        Assert.Equal("llama", r.Metadata["general.architecture"].AsString());
        Assert.Equal(2u, r.Metadata["llama.block_count"].AsUInt32());
        Assert.Equal(10000f, r.Metadata["llama.rope.freq_base"].AsFloat32());
        Assert.True(r.Metadata["tokenizer.ggml.add_bos_token"].AsBool());
        Assert.Equal(["a", "ü", "<s>"], r.Metadata["tokenizer.ggml.tokens"].AsArray<string>());
        Assert.Equal([1, 1, 3], r.Metadata["tokenizer.ggml.token_type"].AsArray<int>());

        Assert.Equal(0, r.DataOffset % 32);
        Assert.Equal(["small.weight", "blk.0.attn_q.weight"], r.Tensors.Select(t => t.Name));
        Assert.All(r.Tensors, t => Assert.Equal(0ul, t.Offset % 32));
        Assert.Equal(32ul, r.Tensors[1].Offset);                          // 12 bytes padded to 32
        Assert.Equal([7ul, 5ul], r.Tensor("blk.0.attn_q.weight").Dimensions); // ggml order: ne[0] = columns
        Assert.Equal([5L, 7L], r.Tensor("blk.0.attn_q.weight").TorchShape);
        Assert.Equal(small, r.ReadF32("small.weight"));
        Assert.Equal(matrix, r.ReadF32("blk.0.attn_q.weight"));
        Assert.Equal(0, raw.Length % 32);
    }

    [Fact]
    public void AddString_DuplicateKey_ThrowsNamingKey()
    {
        var w = new GgufWriter().AddString("general.name", "x");
        var e = Assert.Throws<ArgumentException>(() => w.AddString("general.name", "y"));
        Assert.Contains("general.name", e.Message);
    }

    [Fact]
    public void AddTensor_NameLongerThanGgmlLimit_Throws()
    {
        var e = Assert.Throws<ArgumentException>(() => new GgufWriter().AddTensor(new string('x', 64), new float[1], 1));
        Assert.Contains("GGML_MAX_NAME", e.Message);
    }

    [Fact]
    public void AddTensor_ShapeDisagreesWithData_Throws()
    {
        var e = Assert.Throws<ArgumentException>(() => new GgufWriter().AddTensor("t", new float[5], 2, 3));
        Assert.Contains("6 elements", e.Message);
    }

    [Fact]
    public void WriteTo_CallbackWritesWrongByteCount_ThrowsAndLeavesNoFile()
    {
        string path = Path.Combine(_dir, "bad.gguf");
        var w = new GgufWriter().AddTensor("t", GgufTensorType.F32, [4], s => s.Write(new byte[8]));
        var e = Assert.Throws<InvalidOperationException>(() => w.WriteTo(path));
        Assert.Contains("'t' wrote 8 bytes, expected 16", e.Message);
        Assert.False(File.Exists(path));
        Assert.False(File.Exists(path + ".partial"));
    }

    [Fact]
    public void Open_TruncatedFile_ThrowsInvalidDataNamingFile()
    {
        string path = Path.Combine(_dir, "t.gguf");
        new GgufWriter().AddString("general.architecture", "llama").AddTensor("w", new float[64], 8, 8).WriteTo(path);
        byte[] raw = File.ReadAllBytes(path);
        File.WriteAllBytes(path, raw[..(raw.Length - 40)]);
        var e = Assert.Throws<InvalidDataException>(() => GgufReader.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("'w'", e.Message);
    }

    [Fact]
    public void Open_NotGguf_ThrowsInvalidData()
    {
        string path = Path.Combine(_dir, "n.gguf");
        File.WriteAllText(path, "this is not a gguf file at all");
        var e = Assert.Throws<InvalidDataException>(() => GgufReader.Open(path));
        Assert.Contains("bad magic", e.Message);
    }

    [Fact]
    public void Open_MissingFile_ThrowsFileNotFound()
    {
        Assert.Throws<FileNotFoundException>(() => GgufReader.Open(Path.Combine(_dir, "missing.gguf")));
    }
}
