using Platform.Inference.Loading;
using Platform.Inference.Models.Moe;
using Platform.Multimodal.MoeAdapter;
using Platform.Multimodal.MoeAdapter.Training;
using Platform.Multimodal.Onnx;
using Platform.Multimodal.Training;
using Platform.Multimodal.World;
using static TorchSharp.torch;

namespace Platform.Multimodal.Tests.MoeAdapter.Training;

/// <summary>The shipped models/demo-moe: the VQ tokenizer through its ONNX decoder, and the image vocabulary on the base.</summary>
public sealed class ShippedMoeFamilyTests
{
    [Fact]
    public void VqOnnxDecoder_ShippedTokenizer_MatchesTorchAndReadsBackSeenScenes()
    {
        var folder = DemoMoeFolder.Find();
        using var vq = MoeFamilyTrainer.LoadVq(folder);
        using var onnx = new OnnxVqDecoder(Path.Combine(folder, MoeModelFiles.VqDecoderOnnx));
        var generator = new SceneGenerator(99);
        var scenes = Enumerable.Range(0, 16).Select(_ => generator.NextScene(jitter: false)).ToList();
        using var codes = vq.Encode(LmBatch.RenderImages(scenes));
        float[] expected;
        using (no_grad()) expected = vq.Decode(codes).data<float>().ToArray();
        var actual = onnx.Run(codes.data<long>().ToArray(), scenes.Count);
        double diff = expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(diff < 1e-5, $"max |onnx - torch| = {diff}");
        // Measured 71.5% on 200 seen scenes (README); a regression below 60% fails.
        double rate = VqTokenizerStage.ReconstructionExactRate(vq, WorldSplit.Seen, 100, onnx.Run);
        Assert.True(rate >= 0.6, $"only {rate:P0} of seen reconstructions read back right");
    }

    [Fact]
    public void ImageVocabulary_OnShippedBase_TextLogitsBitwiseUnchangedAndPictureScored()
    {
        var folder = DemoMoeFolder.Find();
        using var vq = MoeFamilyTrainer.LoadVq(folder);
        using var loaded = ModelLoader.Load(folder);
        var vocabulary = new ImageVocabulary(loaded.Config.VocabSize, vq.Config.CodebookSize, vq.Config.CodesPerImage);
        manual_seed(1);
        using var adapter = new ImageTokenAdapter(loaded.Model, vocabulary.NewTokens, rank: 4, alpha: 8);
        // B starts at zero: move it so the adapter really changes the image positions.
        using (no_grad()) foreach (var p in adapter.experts_lora.parameters()) p.add_(randn_like(p) * 0.05);
        adapter.Attach(true);
        var text = loaded.Tokenizer.Encode("<|im_start|>user\ndraw a small red circle<|im_end|>\n<|im_start|>assistant\nhere is a small red circle at the top left.").Select(x => (long)x).ToArray();
        using var _ = no_grad();
        using var ids = tensor(text).unsqueeze(0);
        using var baseLogits = loaded.Model.forward(ids);
        using var withAdapter = adapter.Forward(ids);
        Assert.Equal(vocabulary.Size, (int)withAdapter.shape[2]);
        using var textPart = withAdapter[.., .., ..vocabulary.BaseVocabulary].contiguous();
        // The loaded folder serves its own image adapter too: its text columns are the base model's.
        using var baseText = baseLogits[.., .., ..vocabulary.BaseVocabulary].contiguous();
        Assert.Equal(baseText.data<float>().ToArray(), textPart.data<float>().ToArray());

        using var sceneCodes = vq.Encode(LmBatch.RenderImages([new SceneGenerator(2).NextScene(jitter: false)]));
        var picture = vocabulary.Picture(sceneCodes.data<long>().ToArray());
        using var withPicture = adapter.Forward(tensor(text.Concat(picture.Select(x => (long)x)).ToArray()).unsqueeze(0));
        Assert.Equal(text.Length + picture.Length, (int)withPicture.shape[1]);
        Assert.True(withPicture.isfinite().all().item<bool>());
    }

    [Fact]
    public void ImageAdapter_Shipped_TextLogitsBitwiseTheBaseAndPicturesPredicted()
    {
        var folder = DemoMoeFolder.Find();
        using var lm = MoeAdapterStage.LoadBase(folder);
        var tokenizer = Platform.Inference.Tokenization.TokenizerLoader.Load(folder);
        using var adapter = ImageTokenAdapter.Load(lm, folder);
        Assert.NotNull(adapter);
        var text = tokenizer.Encode("<|im_start|>user\ndraw a small red circle<|im_end|>\n<|im_start|>assistant\nhere is a small red circle at the top left.").Select(x => (long)x).ToArray();
        using (no_grad())
        {
            using var ids = tensor(text).unsqueeze(0);
            using var baseLogits = lm.forward(ids);
            using var withAdapter = adapter.Forward(ids);
            using var textPart = withAdapter[.., .., ..adapter.BaseVocabulary].contiguous();
            Assert.Equal(baseLogits.contiguous().data<float>().ToArray(), textPart.data<float>().ToArray());
        }
        // Teacher-forced on seen requests the training never saw (the stage's validation seed): 96.7% on the stage's 64 (training log); a regression below 90% fails.
        using var vq = MoeFamilyTrainer.LoadVq(folder);
        var sequences = new ImageTokenSequences(new DemoChat(tokenizer, visualTokens: 1), ImageTokenAdapterConfig.TryRead(folder)!.Vocabulary);
        var requests = MoeAdapterStage.Requests(MoeAdapterStage.ValidationSeed).Take(16).ToList();
        var (_, accuracy) = MoeAdapterStage.Validate(adapter, sequences, requests, ImageTokenSequences.Codes(vq, requests));
        Assert.True(accuracy >= 0.9, $"next-code accuracy {accuracy:P1}");
    }
}
