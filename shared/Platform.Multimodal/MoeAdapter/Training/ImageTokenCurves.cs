using Platform.Inference.Models.Llama;
using Platform.Inference.Models.Moe;
using Platform.Multimodal.Models.Vq;
using Platform.Multimodal.Training;
using Platform.Multimodal.World;
using static TorchSharp.torch;

namespace Platform.Multimodal.MoeAdapter.Training;

/// <summary>
/// The initialisation comparison of the image-token embeddings (GW vs random): the partial-LoRA adapter
/// (<see cref="ImageTokenAdapter"/>, base frozen) trained for a few steps on seen drawing requests answered by the
/// base's sentence and the picture's image tokens ("here is a small red circle at the top left." begin, 64 codes,
/// end, &lt;|im_end|&gt;; <see cref="ImageTokenSequences"/>), loss on the image tokens and the stop; one loss curve per initialisation and seed.
/// </summary>
public sealed class ImageTokenCurves(LlamaForCausalLM baseModel, VqTokenizer vq, DemoChat chat, ImageVocabulary vocabulary, Action<string> log)
{
    public const int Rank = 8;
    public const double Alpha = 16;

    /// <summary>The drawing requests of one seed's stream (seen pairs, seen phrasings), in order.</summary>
    public static IEnumerable<WorldDialogue> Requests(int seed)
    {
        var generator = new SceneGenerator(seed + 31);
        while (true) yield return generator.Request();
    }

    private readonly ImageTokenSequences _sequences = new(chat, vocabulary);

    /// <summary>ids [B, T] and labels [B, T] (-100 except on the image run and the stop after it) of a batch of requests.</summary>
    public (Tensor Ids, Tensor Labels) Batch(IReadOnlyList<WorldDialogue> requests) => _sequences.Batch(requests, ImageTokenSequences.Codes(vq, requests));

    /// <summary>Trains a fresh adapter from <paramref name="rows"/> for <paramref name="steps"/> steps; the image-token loss of every step.</summary>
    public float[] Run(float[,] rows, int seed, int steps, int batchSize, double lr = 3e-3, CancellationToken ct = default)
    {
        manual_seed(seed);
        using var adapter = new ImageTokenAdapter(baseModel, vocabulary.NewTokens, Rank, Alpha, rows);
        adapter.Attach(true);
        var parameters = adapter.parameters().ToList();
        using var opt = optim.AdamW(parameters, lr, weight_decay: 0.0);
        using var stream = Requests(seed).GetEnumerator();
        var curve = new float[steps];
        for (int step = 0; step < steps; step++)
        {
            ct.ThrowIfCancellationRequested();
            using var guard = TrainingSchedule.StepWithoutGc();
            using var scope = NewDisposeScope();
            var batch = new List<WorldDialogue>();
            for (int i = 0; i < batchSize && stream.MoveNext(); i++) batch.Add(stream.Current);
            var (ids, labels) = Batch(batch);
            var logits = adapter.Forward(ids);
            var loss = nn.functional.cross_entropy(logits[.., ..^1].reshape(-1, vocabulary.Size), labels[.., 1..].reshape(-1), ignore_index: -100);
            opt.zero_grad();
            loss.backward();
            nn.utils.clip_grad_norm_(parameters, 1.0);
            opt.step();
            curve[step] = loss.item<float>();
            if (step % 10 == 0 || step == steps - 1) log($"seed {seed} step {step}: image-token loss {curve[step]:F4}");
        }
        adapter.Attach(false);
        return curve;
    }
}
