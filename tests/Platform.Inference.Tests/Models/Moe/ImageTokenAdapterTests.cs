using Platform.Inference.Loading;
using Platform.Inference.Models;
using Platform.Inference.Models.Moe;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Models.Moe;

[Collection(TorchGlobalRngCollection.Name)]
public sealed class ImageTokenAdapterTests : IDisposable
{
    private const int NewTokens = 12;
    private readonly string _dir = Directory.CreateTempSubdirectory("moe-adapter-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The float32 values' bit patterns (bitwise comparison, NaN included).</summary>
    private static int[] Bits(Tensor t) => t.contiguous().data<float>().ToArray().Select(BitConverter.SingleToInt32Bits).ToArray();

    private static readonly long[] Text = [3, 300, 45, 77, 120, 9, 260, 301, 88, 15];

    /// <summary>A base model and an adapter trained a few steps on image-token sequences (so its B matrices are not zero).</summary>
    private (LoadedModel Base, ImageTokenAdapter Adapter) Trained(string family)
    {
        var config = MoeTestModels.Config(family) with { TieWordEmbeddings = false };
        var m = ModelLoader.Load(TinyModelFactory.Create(Path.Combine(_dir, family), config, seed: 9));
        manual_seed(3);
        var adapter = new ImageTokenAdapter(m.Model, NewTokens, rank: 4, alpha: 8);
        adapter.Attach(true);
        var optimizer = optim.Adam(adapter.parameters(), lr: 0.02);
        var rng = new Random(1);
        for (int step = 0; step < 6; step++)
        {
            using var scope = NewDisposeScope();
            // text prefix, then image tokens (ids 512..523)
            var ids = Text[..3].Concat(Enumerable.Range(0, 9).Select(_ => 512L + rng.Next(NewTokens))).ToArray();
            var input = tensor(ids).unsqueeze(0);
            var logits = adapter.Forward(input.narrow(1, 0, ids.Length - 1));
            var loss = nn.functional.cross_entropy(logits.view(-1, logits.shape[2]), input.narrow(1, 1, ids.Length - 1).reshape(-1));
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
        }
        return (m, adapter);
    }

    [Theory]
    [InlineData("mixtral")]
    [InlineData("olmoe")]
    [InlineData("qwen2_moe")]
    public void Forward_TextOnly_BaseLogitsBitwiseIdenticalWithAdapterOnAndOff(string family)
    {
        var (m, adapter) = Trained(family);
        using var _ = m;
        Assert.True(adapter.experts_lora[0].gate_up_B.abs().max().item<float>() > 0, "training moved the adapter");
        using var noGrad = no_grad();
        var ids = tensor(Text).unsqueeze(0);
        var baseLogits = m.Model.forward(ids);

        adapter.Attach(true);
        var on = adapter.Forward(ids);
        adapter.Attach(false);
        var off = adapter.Forward(ids);

        Assert.Equal(512 + NewTokens, on.shape[2]);
        Assert.True(Bits(baseLogits).SequenceEqual(Bits(on.narrow(2, 0, 512))), "adapter on: text logits differ from the base model's");
        Assert.True(Bits(baseLogits).SequenceEqual(Bits(off.narrow(2, 0, 512))), "adapter off: text logits differ from the base model's");
        Assert.True(Bits(on).SequenceEqual(Bits(off)));
    }

    [Fact]
    public void Forward_ImageTokens_AdapterChangesThemAndTextBeforeThemStaysClose()
    {
        var (m, adapter) = Trained("mixtral");
        using var _ = m;
        using var noGrad = no_grad();
        var ids = tensor(Text[..5].Concat([512L, 515, 520, 513]).ToArray()).unsqueeze(0);
        adapter.Attach(true);
        var on = adapter.Forward(ids);
        adapter.Attach(false);
        var off = adapter.Forward(ids);
        // At image positions the adapted experts differ from the base experts.
        Assert.True((on.narrow(1, 5, 4) - off.narrow(1, 5, 4)).abs().max().item<float>() > 1e-3f);
        // Causal: text positions before the first image token see no image token (batch composition may move the last bits).
        var textDiff = (on.narrow(1, 0, 5).narrow(2, 0, 512) - m.Model.forward(tensor(Text[..5]).unsqueeze(0))).abs().max().item<float>();
        Assert.True(textDiff < 1e-5f, $"text before the image: max |diff| {textDiff}");
    }

    [Fact]
    public void Train_BaseWeightsFrozen_OnlyAdapterTrainable()
    {
        var config = MoeTestModels.Config("olmoe") with { TieWordEmbeddings = false };
        using var reference = ModelLoader.Load(TinyModelFactory.Create(Path.Combine(_dir, "olmoe"), config, seed: 9));
        var (m, adapter) = Trained("olmoe");
        using var _ = m;
        var before = reference.Model.state_dict();
        foreach (var (name, p) in m.Model.state_dict())
            Assert.True(Bits(before[name]).SequenceEqual(Bits(p)), $"{name} changed");
        Assert.All(m.Model.parameters(), p => Assert.False(p.requires_grad));
        Assert.InRange(adapter.TrainableShare, 0.001, 0.5);
        Assert.Equal(adapter.parameters().Sum(p => p.numel()), adapter.TrainableParameters);
    }
    [Fact]
    public void SaveLoad_TrainedAdapter_SameLogitsBitwise()
    {
        var (m, adapter) = Trained("mixtral");
        using var _ = m;
        var folder = Path.Combine(_dir, "saved");
        var config = new ImageTokenAdapterConfig { BaseVocabSize = 512, CodebookSize = NewTokens - 2, GridSize = 1, LoraRank = 4, LoraAlpha = 8 };
        adapter.Save(folder, config);
        Assert.Equal(config, ImageTokenAdapterConfig.TryRead(folder));

        using var noGrad = no_grad();
        var ids = tensor(Text[..5].Concat([512L, 515, 520, 513]).ToArray()).unsqueeze(0);
        var expected = Bits(adapter.Forward(ids));
        using var loaded = ImageTokenAdapter.Load(m.Model, folder);
        Assert.NotNull(loaded);
        Assert.True(expected.SequenceEqual(Bits(loaded.Forward(ids))), "a saved and loaded adapter computes other logits");
    }

    [Fact]
    public void Load_FolderWithoutAdapter_Null()
    {
        var (m, _) = Trained("mixtral");
        using var __ = m;
        Assert.Null(ImageTokenAdapter.Load(m.Model, _dir));
    }

    [Fact]
    public void Load_WrongBaseVocabulary_InvalidData()
    {
        var (m, adapter) = Trained("mixtral");
        using var _ = m;
        var folder = Path.Combine(_dir, "wrong");
        adapter.Save(folder, new ImageTokenAdapterConfig { BaseVocabSize = 512, CodebookSize = NewTokens - 2, GridSize = 1, LoraRank = 4, LoraAlpha = 8 });
        File.WriteAllText(Path.Combine(folder, ImageTokenAdapterConfig.FileName),
            new ImageTokenAdapterConfig { BaseVocabSize = 500, CodebookSize = NewTokens - 2, GridSize = 1, LoraRank = 4, LoraAlpha = 8 }.ToJson());
        var e = Assert.Throws<InvalidDataException>(() => ImageTokenAdapter.Load(m.Model, folder));
        Assert.Contains("base_vocab_size 500", e.Message);
    }
}
