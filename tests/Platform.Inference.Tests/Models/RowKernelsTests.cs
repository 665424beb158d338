using Platform.Inference.Models.Llama;
using Xunit;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Models;

public class RowKernelsTests
{
    [Theory]
    [InlineData(1, 300, 64, 1)]     // GEMV, one thread
    [InlineData(1, 4099, 72, 2)]    // GEMV split across threads, rows not a multiple of 4
    [InlineData(3, 258, 64, 2)]     // odd batch: 4x2 blocks plus a single-row tail
    [InlineData(16, 1030, 96, 2)]   // decode batch, threaded, row tail
    [InlineData(5, 40, 13, 1)]      // columns not a multiple of 8: scalar-safe path
    public void Linear_DecodeSizedInputs_MatchesTorchLinear(int batch, int rows, int cols, int threads)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var generator = new TorchSharp.torch.Generator(42);
        var weight = randn([rows, cols], generator: generator);
        var bias = randn([rows], generator: generator);
        var x = randn([batch, 1, cols], generator: generator);
        int before = get_num_threads();
        set_num_threads(threads);
        try
        {
            var ours = RowKernels.Linear(x, weight, bias);
            var reference = nn.functional.linear(x, weight, bias);
            Assert.Equal(reference.shape, ours.shape);
            float diff = (ours - reference).abs().max().item<float>();
            Assert.True(diff < 1e-4f, $"max |diff| {diff}");
        }
        finally { set_num_threads(before); }
    }

    [Fact]
    public void Linear_PrefillSizedInput_UsesTorchAndMatches()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var weight = randn(32, 16);
        var x = randn(1, RowKernels.MaxKernelRows + 1, 16);
        Assert.Equal(0f, (RowKernels.Linear(x, weight, null) - nn.functional.linear(x, weight)).abs().max().item<float>());
    }

    [Theory]
    [InlineData(3, 16, 11)]   // one 8-key score block plus a tail; column blocks of 8 only
    [InlineData(3, 64, 161)]  // SmolLM's head_dim: 32-column blocks, odd length (a last unpaired key)
    [InlineData(2, 40, 8)]    // exactly one key block; a 32-column block plus an 8-column tail
    [InlineData(1, 32, 1)]    // a single key: no block, the softmax is 1
    [InlineData(2, 12, 9)]    // head_dim not a multiple of 8: the library path
    public void AttendGroup_SharedKvHead_MatchesScaledDotProductAttention(int heads, int d, int length)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var q = randn(1, 1, heads, d);
        var k = randn(1, 1, length, d);
        var v = randn(1, 1, length, d);
        // Three query heads over one kv head: sdpa with the heads as query rows.
        var reference = nn.functional.scaled_dot_product_attention(q.view(1, 1, heads, d), k, v).view(-1);
        var output = new float[heads * d];
        RowKernels.AttendGroup(q.data<float>().ToArray(), k.data<float>().ToArray(), v.data<float>().ToArray(), heads, d, length,
            1f / MathF.Sqrt(d), new float[heads * length], output);
        float diff = (tensor(output) - reference).abs().max().item<float>();
        Assert.True(diff < 1e-5f, $"max |diff| {diff}");
    }

    [Fact]
    public void RowDecodeBegin_BatchGrowsOneRowAtATime_ScoresStaySizedToTheContext()
    {
        // Sequences join a running batch one by one: each growth of the row count must not grow the per-row
        // score length (it once doubled per join and overflowed at ~30 rows).
        var config = Platform.Inference.Models.TinyModelFactory.SmolLM135MConfig();
        var decode = new RowDecode(config);
        using var cache = new Platform.Inference.Models.KvCache(config with { NumHiddenLayers = 1 }, slots: 1, maxTokens: 1);
        int groups = config.NumAttentionHeads / config.KeyValueHeads;
        for (int rows = 1; rows <= RowKernels.MaxKernelRows; rows++)
        {
            var positions = Enumerable.Range(0, rows).Select(i => (long)(100 + i)).ToArray();
            decode.Begin(cache, 0, positions, positions, threads: 1);
            int needed = (int)(positions.Max() + 1) * groups;
            Assert.InRange(decode.ScoresOf(rows - 1).Length, needed, 2 * needed);
        }
    }
}
