using Platform.Inference.Models.Llama;
using Platform.Inference.Models.Mixtral;
using Platform.Inference.Models.Olmoe;
using Platform.Inference.Models.Qwen2Moe;
using TorchSharp.Modules;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Platform.Inference.Models.Moe;

/// <summary>
/// Teaches a frozen text-only MoE language model a new vocabulary (begin/end-of-image and one token per image
/// code) inside its experts' spare capacity (Dutt et al. 2025): new rows appended to the embeddings and to the
/// output head, and per sparse layer an <see cref="ExpertLoRA"/> that acts only at positions holding a new token.
/// The base model's weights are never written (training gives them no gradient). Text positions never touch an
/// adapter: for text-only input the base vocabulary's logits are bitwise the base model's (the base head is
/// applied exactly as without the adapter and the new head rows are a separate product). Text that follows image
/// tokens attends to them, so its logits may differ.
/// </summary>
public sealed class ImageTokenAdapter : nn.Module
{
    public readonly Parameter new_embeddings;
    public readonly Parameter new_lm_head;
    public readonly ModuleList<ExpertLoRA> experts_lora;
    private readonly LlamaForCausalLM _base;
    private readonly SparseMoeBlock[] _blocks;
    private bool _attached;

    public ImageTokenAdapter(LlamaForCausalLM baseModel, int newTokens, int rank, double alpha, float[,]? initialEmbeddings = null) : base(nameof(ImageTokenAdapter))
    {
        if (baseModel.Config is not MoeConfig moe) throw new ArgumentException("the image-token adapter needs a Mixture-of-Experts model");
        if (newTokens <= 0) throw new ArgumentOutOfRangeException(nameof(newTokens));
        BaseVocabulary = moe.VocabSize;
        NewTokens = newTokens;
        _blocks = baseModel.model.layers.Select(SparseBlockOf).Where(b => b is not null).Select(b => b!).ToArray();
        int h = moe.HiddenSize;
        var embedScale = baseModel.model.embed_tokens.weight!.std().item<float>();
        new_embeddings = new Parameter(initialEmbeddings is null
            ? randn(newTokens, h) * embedScale
            : tensor(Flatten(initialEmbeddings, newTokens, h)).view(newTokens, h));
        new_lm_head = new Parameter(randn(newTokens, h) * (1 / Math.Sqrt(h)));
        experts_lora = new ModuleList<ExpertLoRA>(_blocks.Select(_ => new ExpertLoRA(moe.ExpertCount, h, moe.ExpertIntermediateSize, rank, alpha)).ToArray());
        RegisterComponents();
        // Set after registration: the base model is not a component of the adapter (its parameters are not the adapter's).
        _base = baseModel;
        foreach (var p in baseModel.parameters()) p.requires_grad = false;
    }

    public int BaseVocabulary { get; }
    public int NewTokens { get; }
    public LlamaForCausalLM BaseModel => _base;

    /// <summary>Adapter parameters, and their share of base + adapter.</summary>
    public long TrainableParameters => parameters().Sum(p => p.numel());
    public double TrainableShare => (double)TrainableParameters / (TrainableParameters + _base.parameters().Sum(p => p.numel()));

    /// <summary>Writes image_adapter_config.json and image_adapter.safetensors into <paramref name="folder"/>.</summary>
    public void Save(string folder, ImageTokenAdapterConfig config)
    {
        if (config.BaseVocabSize != BaseVocabulary || config.Vocabulary.NewTokens != NewTokens)
            throw new ArgumentException($"the config describes {config.Vocabulary.NewTokens} new tokens from id {config.BaseVocabSize}; the adapter has {NewTokens} from {BaseVocabulary}");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, ImageTokenAdapterConfig.FileName), config.ToJson());
        this.save_safetensors(Path.Combine(folder, ImageTokenAdapterConfig.WeightsFileName));
    }

    /// <summary>The adapter saved in <paramref name="folder"/> on <paramref name="baseModel"/> (attached), or null when the folder has none.</summary>
    public static ImageTokenAdapter? Load(LlamaForCausalLM baseModel, string folder)
    {
        if (ImageTokenAdapterConfig.TryRead(folder) is not { } config) return null;
        var path = Path.Combine(folder, ImageTokenAdapterConfig.WeightsFileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: image adapter weights not found beside {ImageTokenAdapterConfig.FileName}", path);
        if (baseModel.Config.VocabSize != config.BaseVocabSize)
            throw new InvalidDataException($"{ImageTokenAdapterConfig.FileName}: base_vocab_size {config.BaseVocabSize}, the model's vocab_size {baseModel.Config.VocabSize}");
        var adapter = new ImageTokenAdapter(baseModel, config.Vocabulary.NewTokens, config.LoraRank, config.LoraAlpha);
        adapter.load_safetensors(path, strict: true);
        adapter.Attach(true);
        return adapter;
    }

    /// <summary>Whether the blocks use the adapters (detached, new tokens still embed and score, experts run as the base).</summary>
    public void Attach(bool on)
    {
        _attached = on;
        for (int i = 0; i < _blocks.Length; i++) _blocks[i].Adapter = on ? experts_lora[i] : null;
    }

    /// <summary>Logits [B, T, base vocabulary + new tokens] for ids [B, T] (new tokens are ids >= the base vocabulary).</summary>
    public Tensor Forward(Tensor ids)
    {
        using var scope = NewDisposeScope();
        long b = ids.shape[0], t = ids.shape[1];
        var isNew = ids >= BaseVocabulary;
        var rows = isNew.view(-1).cpu().data<bool>().ToArray();
        bool anyNew = rows.Contains(true);
        foreach (var block in _blocks) block.AdapterRows = _attached && anyNew ? rows : null;
        try
        {
            var embeds = _base.model.embed_tokens.forward(ids.clamp(max: BaseVocabulary - 1));
            if (anyNew)
            {
                var added = new_embeddings.index_select(0, (ids - BaseVocabulary).clamp(min: 0).view(-1)).view(b, t, -1);
                embeds = where(isNew.unsqueeze(-1), added, embeds);
            }
            var positions = arange(t, device: ids.device).unsqueeze(0).expand(b, t);
            var output = _base.Forward(new LlamaInputs { InputsEmbeds = embeds, HiddenStatePositions = positions });
            var normed = _base.model.norm.forward(output.HiddenStates!);
            var added2 = nn.functional.linear(normed, new_lm_head);
            return cat([output.Logits!, added2], -1).MoveToOuterDisposeScope();
        }
        finally
        {
            foreach (var block in _blocks) block.AdapterRows = null;
        }
    }

    internal static SparseMoeBlock? SparseBlockOf(DecoderLayer layer) => layer switch
    {
        MixtralDecoderLayer m => m.Moe,
        OlmoeDecoderLayer o => o.mlp,
        Qwen2MoeDecoderLayer q => q.Moe,
        _ => null,
    };

    private static float[] Flatten(float[,] x, int rows, int cols)
    {
        if (x.GetLength(0) != rows || x.GetLength(1) != cols) throw new ArgumentException($"initial embeddings must be [{rows}, {cols}]");
        var flat = new float[rows * cols];
        Buffer.BlockCopy(x, 0, flat, 0, flat.Length * sizeof(float));
        return flat;
    }
}
