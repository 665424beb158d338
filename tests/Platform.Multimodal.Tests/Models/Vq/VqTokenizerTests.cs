using Platform.Multimodal.Models.Vq;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Platform.Multimodal.Tests.Models.Vq;

public sealed class VqTokenizerTests
{
    private static readonly VqTokenizerConfig Small = new() { CodebookSize = 16, CodeDim = 8, HiddenChannels = 8 };

    [Theory]
    [InlineData(8)]
    [InlineData(16)]
    [InlineData(32)]
    public void EncodeDecode_Shapes_FollowTheGrid(int grid)
    {
        manual_seed(1);
        using var vq = new VqTokenizer(Small with { GridSize = grid });
        using var images = rand(2, 3, 64, 64);
        using var codes = vq.Encode(images);
        Assert.Equal(new long[] { 2, grid, grid }, codes.shape);
        Assert.Equal(ScalarType.Int64, codes.dtype);
        using var decoded = vq.Decode(codes);
        Assert.Equal(new long[] { 2, 3, 64, 64 }, decoded.shape);
    }

    [Fact]
    public void Nearest_KnownCodebook_PicksClosestEntry()
    {
        using var codebook = new VqCodebook(new VqTokenizerConfig { CodebookSize = 3, CodeDim = 2, HiddenChannels = 8 });
        using (no_grad()) codebook.embedding.copy_(tensor(new float[] { 0, 0, 10, 0, 0, 10 }, [3, 2]));
        using var x = tensor(new float[] { 9, 1, 1, 8, -1, 0.5f, 4, 6 }, [4, 2]);
        Assert.Equal(new long[] { 1, 2, 0, 2 }, codebook.Nearest(x).data<long>().ToArray());
    }

    [Fact]
    public void Quantize_StraightThrough_GradientReachesEncoderOutputUnchanged()
    {
        manual_seed(2);
        using var codebook = new VqCodebook(Small);
        codebook.eval();
        using var ze = randn(1, 8, 2, 2).requires_grad_(true);
        var (codes, zq, commitment) = codebook.Quantize(ze);
        using var weights = randn(1, 8, 2, 2);
        (zq * weights).sum().backward();
        // d(sum w * z_q)/d z_e = w exactly: the straight-through estimator copies the gradient.
        Assert.Equal(weights.data<float>().ToArray(), ze.grad!.data<float>().ToArray());
        // Forward value is the codebook entry, not the encoder output.
        using var expected = codebook.Lookup(codes);
        Assert.True(allclose(zq.detach(), expected, 1e-6, 1e-6));
        Assert.True(commitment.item<float>() > 0);
    }

    [Fact]
    public void Quantize_Training_DeadEntriesRestartOnEncoderOutputs()
    {
        manual_seed(3);
        using var codebook = new VqCodebook(Small with { EmaDecay = 0.5 });
        codebook.train();
        // Every encoder output is near one point: without restarts one entry takes everything and the rest stay unused.
        using var ze = (randn(4, 8, 4, 4) * 0.01 + 5).requires_grad_(false);
        using var generator = new Generator(7);
        var trace = new List<string>();
        for (int i = 0; i < 6; i++) { codebook.Quantize(ze, generator); trace.Add($"{codebook.EntriesInUse()} {codebook.training} {codebook.embedding.norm(1).min().item<float>()} cs {string.Join(",", codebook.ClusterSizes().Take(4))}"); }
        // The restarted entries now sit on encoder outputs (norm ~ 5 * sqrt(8)), none at the N(0, 0.1) init.
        using var norms = codebook.embedding.norm(1);
        Assert.True(norms.min().item<float>() > 10, $"an entry was never restarted: {string.Join("; ", trace)}");
    }

    [Fact]
    public void SaveLoad_Safetensors_KeysAreWeightsOnlyAndRoundTrip()
    {
        manual_seed(4);
        var path = Path.Combine(Path.GetTempPath(), $"vq-{Guid.NewGuid():N}.safetensors");
        try
        {
            using var vq = new VqTokenizer(Small);
            vq.save_safetensors(path);
            var keys = vq.state_dict().Keys.ToList();
            Assert.Contains("codebook.embedding", keys);
            Assert.Contains("encoder.down.0.weight", keys);
            Assert.Contains("decoder.up.2.bias", keys);
            Assert.DoesNotContain(keys, k => k.Contains("cluster_size") || k.Contains("embed_sum"));
            using var loaded = new VqTokenizer(Small);
            loaded.load_safetensors(path, strict: true);
            using var images = rand(1, 3, 64, 64);
            vq.eval(); loaded.eval();
            using var _ = no_grad();
            Assert.Equal(0f, (vq.forward(images) - loaded.forward(images)).abs().max().item<float>());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void ConfigRead_BadGrid_ThrowsNamingFile()
    {
        var path = Path.Combine(Path.GetTempPath(), $"vq-{Guid.NewGuid():N}.json");
        try
        {
            File.WriteAllText(path, (Small with { GridSize = 24 }).ToJson());
            var e = Assert.Throws<InvalidDataException>(() => VqTokenizerConfig.Read(path));
            Assert.Contains(path, e.Message);
            File.WriteAllText(path, "{ not json");
            Assert.Throws<InvalidDataException>(() => VqTokenizerConfig.Read(path));
            File.WriteAllText(path, (Small with { CodebookSize = 1 }).ToJson());
            Assert.Throws<InvalidDataException>(() => VqTokenizerConfig.Read(path));
            File.WriteAllText(path, Small.ToJson());
            Assert.Equal(Small, VqTokenizerConfig.Read(path));
        }
        finally { File.Delete(path); }
    }
}
