using Platform.Inference.Loading;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;
using static TorchSharp.torch;

namespace Platform.Inference.Engine.Scheduling;

/// <summary>
/// The batched decode step: one forward for every decoding sequence (slots [0, count), one pending token each) on
/// the engine's decode backend, chosen once at start; both backends take the explicit positions a batch carries
/// after a set.
/// </summary>
internal sealed class DecodeRunner
{
    private readonly LoadedModel _model;
    private readonly KvCache _cache;
    private readonly ActiveSlots _slots;
    private readonly StepSampler _sampler;
    private readonly LlamaBackend _backend;

    public DecodeRunner(LoadedModel model, KvCache cache, ActiveSlots slots, StepSampler sampler, LlamaBackend backend)
    {
        _model = model;
        _cache = cache;
        _slots = slots;
        _sampler = sampler;
        _backend = backend;
    }

    public void Step(int count)
    {
        using var scope = NewDisposeScope();
        var ids = new long[count];
        var starts = new long[count];
        var positions = new long[count];
        var rows = new Sequence[count];
        bool shifted = false;
        long maxPos = 0;
        for (int i = 0; i < count; i++)
        {
            var s = rows[i] = _slots[i];
            ids[i] = s.PendingToken;
            starts[i] = s.CacheLength;
            positions[i] = s.CacheLength - s.PositionOffset;
            shifted |= s.PositionOffset != 0;
            maxPos = Math.Max(maxPos, positions[i]);
        }
        var output = _model.Model.Forward(new LlamaInputs
        {
            InputIds = tensor(ids, device: _model.Device).view(count, 1),
            Cache = new CacheWrite { Cache = _cache, FirstSlot = 0, Starts = starts },
            // After a set, rotary positions lag the cache index (the members overlap): such a batch carries explicit
            // positions. The default causal mask over cache indices is what a token after a set needs.
            Backend = _backend,
            PositionIds = shifted ? tensor(positions, device: _model.Device).view(count, 1) : null,
            MaxPosition = maxPos,
        });
        foreach (var s in rows) s.CacheLength++;
        _sampler.Sample(output.Logits!, rows);
    }
}
