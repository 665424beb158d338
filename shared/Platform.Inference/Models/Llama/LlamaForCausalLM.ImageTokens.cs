using Platform.Inference.Models.Moe;
using static TorchSharp.torch;

namespace Platform.Inference.Models.Llama;

/// <summary>
/// Image-token models (Dutt et al. 2025) and routing statistics on the inference forward. With an
/// <see cref="ImageTokenAdapter"/> in use (<see cref="UseImageAdapter"/>), a forward given <see cref="LlamaInputs.InputIds"/>
/// (alone, or beside <see cref="LlamaInputs.InputsEmbeds"/>, which then only name the rows' tokens) on either backend:
/// embeds ids at or above the base vocabulary from the adapter's new_embeddings, tells every sparse block that those
/// rows are image rows (its expert LoRA acts on them only), and returns logits [.., base vocabulary + new tokens]:
/// the base head's rows, then new_lm_head's. A text-only input takes exactly the base computation, so its first
/// base-vocabulary logits are bitwise the base model's. A forward with input embeddings only is the base model's
/// (<see cref="ImageTokenAdapter.Forward"/> runs that way and adds the new rows itself).
/// </summary>
public sealed partial class LlamaForCausalLM
{
    private ImageTokenAdapter? _imageAdapter;
    private SparseMoeBlock[]? _sparse;
    private RoutingRecorder? _recorder;

    /// <summary>The image adapter this model runs with, or null (text-only).</summary>
    public ImageTokenAdapter? ImageAdapter => _imageAdapter;

    /// <summary>Width of the logits a forward given token ids returns: the base vocabulary plus the adapter's new tokens.</summary>
    public int OutputVocabulary => Config.VocabSize + (_imageAdapter?.NewTokens ?? 0);

    /// <summary>The sparse blocks in layer order (empty for a dense model).</summary>
    internal SparseMoeBlock[] SparseBlocks => _sparse ??= model.layers.Select(ImageTokenAdapter.SparseBlockOf).OfType<SparseMoeBlock>().ToArray();

    /// <summary>Runs this model with <paramref name="adapter"/> (built on this model), or without one (null).</summary>
    public void UseImageAdapter(ImageTokenAdapter? adapter)
    {
        if (adapter is not null && !ReferenceEquals(adapter.BaseModel, this))
            throw new ArgumentException("the image adapter was built on another model", nameof(adapter));
        _imageAdapter = adapter;
    }

    /// <summary>
    /// Routing of every forward of this model (both backends; prompt, padding excluded, and generated tokens), per
    /// sparse layer, expert and modality; null for a dense model. A row is Image when its input id is at least the base
    /// vocabulary (or, for an input-embeddings forward, when the block's <see cref="SparseMoeBlock.AdapterRows"/> mark it).
    /// </summary>
    public ModalityRoutingStatistics? Routing
    {
        get
        {
            if (_recorder is null && Config is MoeConfig moe && SparseBlocks.Length > 0)
            {
                var recorder = new RoutingRecorder(new ModalityRoutingStatistics(SparseBlocks.Length, moe.ExpertCount));
                for (int l = 0; l < SparseBlocks.Length; l++) SparseBlocks[l].AttachRecorder(recorder, l);
                _recorder = recorder;
            }
            return _recorder?.Statistics;
        }
    }

    /// <summary>Reads a forward's token ids: sets the blocks' adapter rows (image-token models) and the recorder's
    /// rows (image by id; padding rows of a batched prefill not counted). True when some id is an image token.</summary>
    private bool BeginRows(LlamaInputs inputs)
    {
        bool adapter = _imageAdapter is not null && inputs.InputIds is not null;
        _ = Routing;   // the recorder exists for every MoE model
        if (!adapter && _recorder is null) return false;
        bool[]? counted = null;
        if (inputs.Cache?.Lengths is { } lengths && (inputs.InputIds ?? inputs.InputsEmbeds) is { } x)
        {
            long b = x.shape[0], t = x.shape[1];
            counted = new bool[b * t];
            for (long row = 0; row < b; row++)
                for (long k = 0; k < Math.Min(t, lengths[row]); k++) counted[row * t + k] = true;
        }
        bool[]? image = null;
        bool any = false;
        if (inputs.InputIds is { } ids)
        {
            var host = ids.device_type == TorchSharp.DeviceType.CPU && ids.is_contiguous() && ids.dtype == ScalarType.Int64
                ? ids.data<long>().ToArray() : ids.cpu().contiguous().to_type(ScalarType.Int64).data<long>().ToArray();
            image = new bool[host.Length];
            int vocab = Config.VocabSize;
            for (int i = 0; i < host.Length; i++) any |= image[i] = host[i] >= vocab;
        }
        if (adapter)
            foreach (var block in SparseBlocks) block.AdapterRows = any ? image : null;
        _recorder?.Begin(image, counted);
        return any;
    }

    private void EndRows(LlamaInputs inputs)
    {
        if (_imageAdapter is not null && inputs.InputIds is not null)
            foreach (var block in SparseBlocks) block.AdapterRows = null;
        _recorder?.End();
    }

    /// <summary>Token ids [B, T] to input embeddings [B, T, H] with new tokens from new_embeddings (the base table
    /// for ids below the base vocabulary). Without an adapter, the base embedding.</summary>
    public Tensor EmbedTokens(Tensor ids)
    {
        if (_imageAdapter is not { } a) return model.embed_tokens.forward(ids);
        using var scope = NewDisposeScope();
        int vocab = Config.VocabSize;
        var isNew = ids >= vocab;
        var embeds = model.embed_tokens.forward(ids.clamp(max: vocab - 1));
        if (isNew.any().item<bool>())
        {
            var added = a.new_embeddings.index_select(0, (ids - vocab).clamp(min: 0).view(-1)).view(embeds.shape);
            embeds = where(isNew.unsqueeze(-1), added, embeds);
        }
        return embeds.MoveToOuterDisposeScope();
    }

    /// <summary>The new head's logits [.., N] for normalised states h [.., H], appended to the base logits.</summary>
    private Tensor AppendImageLogits(Tensor baseLogits, Tensor h) =>
        cat([baseLogits, RowKernels.Linear(h, _imageAdapter!.new_lm_head.detach(), null)], -1);
}

/// <summary>
/// Feeds <see cref="ModalityRoutingStatistics"/> from the sparse blocks' routing: per forward, which rows are image
/// rows (by id) and which are counted (padding rows are not). Used by the model's forward thread.
/// </summary>
internal sealed class RoutingRecorder(ModalityRoutingStatistics statistics)
{
    private bool[]? _image, _counted;
    private bool _byIds;

    public ModalityRoutingStatistics Statistics { get; } = statistics;

    public void Begin(bool[]? imageByIds, bool[]? counted)
    {
        _image = imageByIds;
        _byIds = imageByIds is not null;
        _counted = counted;
    }

    public void End()
    {
        _image = null;
        _counted = null;
        _byIds = false;
    }

    /// <summary>One block's routing: <paramref name="chosen"/> [rows, k]; <paramref name="adapterRows"/> the block's
    /// image rows when the forward named no ids.</summary>
    public void Record(int layer, ReadOnlySpan<int> chosen, int topK, bool[]? adapterRows)
    {
        int rows = chosen.Length / topK;
        var image = _byIds ? _image : adapterRows;
        if (image is not null && image.Length != rows) image = null;
        var counted = _counted is { } c && c.Length == rows ? c : null;
        int n = 0;
        for (int i = 0; i < rows; i++) if (counted is null || counted[i]) n++;
        var modalities = new Modality[n];
        int[]? kept = n == rows ? null : new int[n * topK];
        for (int i = 0, j = 0; i < rows; i++)
        {
            if (counted is not null && !counted[i]) continue;
            modalities[j] = image is not null && image[i] ? Modality.Image : Modality.Text;
            if (kept is not null) chosen.Slice(i * topK, topK).CopyTo(kept.AsSpan(j * topK, topK));
            j++;
        }
        ReadOnlySpan<int> ids = kept is null ? chosen : kept;
        Statistics.Record(layer, ids, topK, modalities);
    }
}
