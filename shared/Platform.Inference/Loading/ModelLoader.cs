using System.Text.Json;
using Platform.Inference.Chat;
using Platform.Inference.Engine;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;
using Platform.Inference.Models.Moe;
using Platform.Inference.Tokenization;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Platform.Inference.Loading;

/// <summary>
/// Loads a Hugging Face model folder (or a GGUF file, through <see cref="Gguf.GgufModelLoader"/>) (config.json, model.safetensors or model.safetensors.index.json + shards,
/// tokenizer.json or tokenizer.model, tokenizer_config.json, generation_config.json). Every problem becomes a
/// <see cref="ModelLoadException"/> naming the file.
/// </summary>
public static class ModelLoader
{
    public const string ConfigFile = "config.json";
    public const string WeightsFile = "model.safetensors";
    public const string WeightsIndexFile = "model.safetensors.index.json";
    public const string GenerationConfigFile = "generation_config.json";
    public const string TokenizerConfigFile = "tokenizer_config.json";

    public static LlamaConfig ReadConfig(string folder)
    {
        var path = Path.Combine(folder, ConfigFile);
        if (!Directory.Exists(folder)) throw new ModelLoadException($"{folder}: model folder not found");
        if (!File.Exists(path)) throw new ModelLoadException($"{path}: file not found");
        LlamaConfig config;
        try { config = LlamaConfig.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new ModelLoadException($"{path}: invalid JSON: {e.Message}", e); }
        try { config.Validate(); }
        catch (ArgumentException e) { throw new ModelLoadException($"{path}: {e.Message}", e); }
        return config is MoeConfig moe ? moe with { Layout = ReadExpertLayout(folder) } : config;
    }

    /// <summary>Whether the checkpoint stores experts stacked or one module each (from the tensor names; no data read).</summary>
    private static ExpertLayout ReadExpertLayout(string folder)
    {
        var single = Path.Combine(folder, WeightsFile);
        var index = Path.Combine(folder, WeightsIndexFile);
        var names = File.Exists(single) ? SafetensorsHeader.Read(single).Tensors.Keys
            : File.Exists(index) ? ReadIndex(folder, index).SelectMany(f => f.Item2.Tensors.Keys) : [];
        try { return MoeConfigs.DetectLayout(names); }
        catch (ArgumentException e) { throw new ModelLoadException($"{(File.Exists(single) ? single : index)}: {e.Message}", e); }
    }

    public static LoadedModel Load(string folder, string device = "cpu", string? chatTemplate = null)
    {
        if (Gguf.GgufModelLoader.IsGguf(folder)) return Gguf.GgufModelLoader.Load(folder, device, chatTemplate);
        var config = ReadConfig(folder);
        var imageSlotContext = ImageSlotContext.Read(folder);
        var tokenizer = TokenizerLoader.Load(folder);
        if (tokenizer.VocabSize > config.VocabSize)
            throw new ModelLoadException($"{Path.Combine(folder, ConfigFile)}: vocab_size {config.VocabSize} is smaller than the tokenizer's {tokenizer.VocabSize} tokens");

        var generationConfig = new GenerationConfig();
        var genPath = Path.Combine(folder, GenerationConfigFile);
        if (File.Exists(genPath))
        {
            try { generationConfig = GenerationConfig.Parse(File.ReadAllText(genPath)); }
            catch (JsonException e) { throw new ModelLoadException($"{genPath}: invalid JSON: {e.Message}", e); }
        }

        var template = SelectChatTemplate(folder, tokenizer, chatTemplate);
        Device dev;
        try { dev = torch.device(device); }
        catch (Exception e) { throw new ModelLoadException($"device '{device}' is not available: {e.Message}", e); }

        var model = new LlamaForCausalLM(config);
        ImageTokenAdapter? adapter = null;
        ImageTokenAdapterConfig? adapterConfig;
        try
        {
            LoadWeights(model, folder);
            model.eval();
            (adapter, adapterConfig) = LoadImageAdapter(model, folder);
            if (dev.type != DeviceType.CPU)
            {
                model.to(dev);
                adapter?.to(dev);
            }
        }
        catch
        {
            adapter?.Dispose();
            model.Dispose();
            throw;
        }

        var eos = generationConfig.EosTokenIds.Concat(config.EosTokenIds).ToList();
        if (tokenizer.EosTokenId is int te) eos.Add(te);
        return new LoadedModel
        {
            Folder = folder, Config = config, Model = model, Tokenizer = tokenizer, ChatTemplate = template,
            GenerationConfig = generationConfig, Device = dev, EosTokenIds = eos.Distinct().ToArray(),
            ImageSlotContext = imageSlotContext, ImageAdapter = adapter, ImageVocabulary = adapterConfig?.Vocabulary, ImageAdapterConfig = adapterConfig,
        };
    }

    /// <summary>
    /// The image adapter of an image-token model folder (image_adapter_config.json and image_adapter.safetensors beside
    /// the base files), loaded, attached and in use by <paramref name="model"/>; (null, null) for a folder without the
    /// config. Every problem is a <see cref="ModelLoadException"/> naming the file.
    /// </summary>
    public static (ImageTokenAdapter? Adapter, ImageTokenAdapterConfig? Config) LoadImageAdapter(LlamaForCausalLM model, string folder)
    {
        var configPath = Path.Combine(folder, ImageTokenAdapterConfig.FileName);
        var weightsPath = Path.Combine(folder, ImageTokenAdapterConfig.WeightsFileName);
        ImageTokenAdapterConfig? config;
        try { config = ImageTokenAdapterConfig.TryRead(folder); }
        catch (InvalidDataException e) { throw new ModelLoadException(e.Message, e); }
        if (config is null)
        {
            if (File.Exists(weightsPath)) throw new ModelLoadException($"{weightsPath}: image adapter weights without {ImageTokenAdapterConfig.FileName}");
            return (null, null);
        }
        if (model.Config is not MoeConfig) throw new ModelLoadException($"{configPath}: an image adapter needs a Mixture-of-Experts model; config.json describes {model.Config.Architecture}");
        if (!File.Exists(weightsPath)) throw new ModelLoadException($"{weightsPath}: file not found (the weights {ImageTokenAdapterConfig.FileName} describes)");
        if (config.BaseVocabSize != model.Config.VocabSize)
            throw new ModelLoadException($"{configPath}: base_vocab_size {config.BaseVocabSize} is not config.json's vocab_size {model.Config.VocabSize}");
        if (config.BeginToken == config.EndToken) throw new ModelLoadException($"{configPath}: begin_token and end_token are both '{config.BeginToken}'");
        ImageTokenAdapter? adapter = null;
        try
        {
            adapter = new ImageTokenAdapter(model, config.Vocabulary.NewTokens, config.LoraRank, config.LoraAlpha);
            CheckAdapterTensors(adapter, weightsPath);
            using (no_grad()) adapter.load_safetensors(weightsPath, strict: true);
            adapter.eval();
            adapter.Attach(true);
            model.UseImageAdapter(adapter);
            return (adapter, config);
        }
        catch (Exception e)
        {
            adapter?.Dispose();
            if (e is ModelLoadException) throw;
            throw new ModelLoadException($"{weightsPath}: cannot load the image adapter: {e.Message.Split('\n')[0]}", e);
        }
    }

    /// <summary>The weights file's tensors against the adapter's state dict (names and shapes), before any data is read.</summary>
    private static void CheckAdapterTensors(ImageTokenAdapter adapter, string path)
    {
        var expected = adapter.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape, StringComparer.Ordinal);
        SafetensorsHeader header;
        try { header = SafetensorsHeader.Read(path); }
        catch (ModelLoadException) { throw; }
        catch (Exception e) { throw new ModelLoadException($"{path}: not a safetensors file ({e.Message})", e); }
        foreach (var (name, entry) in header.Tensors)
        {
            if (!expected.TryGetValue(name, out var shape))
                throw new ModelLoadException($"{path}: unexpected tensor '{name}' (not in the image adapter {ImageTokenAdapterConfig.FileName} describes)");
            if (!shape.SequenceEqual(entry.Shape))
                throw new ModelLoadException($"{path}: tensor '{name}' has shape [{string.Join(", ", entry.Shape)}] but {ImageTokenAdapterConfig.FileName} and config.json imply [{string.Join(", ", shape)}]");
        }
        var missing = expected.Keys.Where(k => !header.Tensors.ContainsKey(k)).ToList();
        if (missing.Count > 0) throw new ModelLoadException($"{path}: missing tensors {string.Join(", ", missing.Take(5))}{(missing.Count > 5 ? $" and {missing.Count - 5} more" : "")}");
    }

    /// <summary>Checks every file's keys and shapes against the module, then loads with PyBridge (strict).</summary>
    public static void LoadWeights(LlamaForCausalLM model, string folder)
    {
        var single = Path.Combine(folder, WeightsFile);
        var index = Path.Combine(folder, WeightsIndexFile);
        var expected = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape, StringComparer.Ordinal);
        List<(string Path, SafetensorsHeader Header)> files;
        if (File.Exists(single)) files = [(single, SafetensorsHeader.Read(single))];
        else if (File.Exists(index)) files = ReadIndex(folder, index);
        else throw new ModelLoadException($"{single}: file not found (nor {WeightsIndexFile})");

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var skip = new List<string>();
        foreach (var (path, header) in files)
        {
            foreach (var (name, entry) in header.Tensors)
            {
                if (!expected.TryGetValue(name, out var shape))
                {
                    // Tied checkpoints sometimes still carry lm_head.weight; the head reads the embedding.
                    if (name == "lm_head.weight" && model.Config.TieWordEmbeddings) { skip.Add(name); continue; }
                    throw new ModelLoadException($"{path}: unexpected tensor '{name}' (not in {model.Config.Architecture} for this config.json)");
                }
                if (!shape.SequenceEqual(entry.Shape))
                    throw new ModelLoadException($"{path}: tensor '{name}' has shape [{string.Join(", ", entry.Shape)}] but config.json implies [{string.Join(", ", shape)}]");
                if (!seen.Add(name)) throw new ModelLoadException($"{path}: tensor '{name}' appears in more than one file");
            }
        }
        var missing = expected.Keys.Where(k => !seen.Contains(k)).ToList();
        if (missing.Count > 0)
            throw new ModelLoadException($"{files[0].Path}: missing tensors {string.Join(", ", missing.Take(5))}{(missing.Count > 5 ? $" and {missing.Count - 5} more" : "")}");

        using var noGrad = no_grad();
        foreach (var (path, _) in files)
        {
            try
            {
                // Data is copied into the module's float32 parameters (bf16/f16 checkpoints are converted).
                model.load_safetensors(path, strict: files.Count == 1, skip: skip);
            }
            catch (Exception e) when (e is not ModelLoadException)
            {
                throw new ModelLoadException($"{path}: cannot load weights: {e.Message.Split('\n')[0]}", e);
            }
        }
    }

    private static List<(string, SafetensorsHeader)> ReadIndex(string folder, string index)
    {
        Dictionary<string, string> weightMap;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(index));
            weightMap = doc.RootElement.GetProperty("weight_map").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new ModelLoadException($"{index}: invalid index ({e.Message})", e);
        }
        var result = new List<(string, SafetensorsHeader)>();
        foreach (var shard in weightMap.Values.Distinct())
        {
            var path = Path.Combine(folder, shard);
            if (!File.Exists(path)) throw new ModelLoadException($"{path}: file not found (listed in {WeightsIndexFile})");
            var header = SafetensorsHeader.Read(path);
            foreach (var name in header.Tensors.Keys)
                if (weightMap.TryGetValue(name, out var listed) && listed != shard)
                    throw new ModelLoadException($"{path}: tensor '{name}' is listed in {WeightsIndexFile} under {listed}");
            result.Add((path, header));
        }
        return result;
    }

    public const string ChatTemplateFile = "chat_template.jinja";

    /// <summary>The override name, else the folder's own chat template (chat_template.jinja, else tokenizer_config.json's
    /// chat_template) run by the Jinja interpreter, else the built-in family the vocabulary's markers name.</summary>
    public static ChatTemplate SelectChatTemplate(string folder, TextTokenizer tokenizer, string? overrideName)
    {
        var path = Path.Combine(folder, TokenizerConfigFile);
        JsonElement? config = null;
        string? templateText = null;
        string templateFile = path;
        if (File.Exists(path))
        {
            try
            {
                config = JsonDocument.Parse(File.ReadAllText(path)).RootElement.Clone();
                if (config.Value.TryGetProperty("chat_template", out var ct))
                    templateText = ct.ValueKind == JsonValueKind.String ? ct.GetString() : ct.ValueKind == JsonValueKind.Array ? DefaultNamedTemplate(ct) : null;
            }
            catch (JsonException e) { throw new ModelLoadException($"{path}: invalid JSON: {e.Message}", e); }
        }
        var jinjaFile = Path.Combine(folder, ChatTemplateFile);
        if (File.Exists(jinjaFile)) { templateText = File.ReadAllText(jinjaFile); templateFile = jinjaFile; }
        var bos = TokenizerLoader.TokenText(config, "bos_token");
        var eos = TokenizerLoader.TokenText(config, "eos_token");
        return ChatTemplateSelector.Select(templateFile, templateText, bos, eos, overrideName, tokenizer.TokenToId);
    }

    /// <summary>A list of named templates (transformers' form): the one named "default", as apply_chat_template picks without tools.</summary>
    private static string? DefaultNamedTemplate(JsonElement list)
    {
        foreach (var e in list.EnumerateArray())
            if (e.ValueKind == JsonValueKind.Object && e.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String && n.GetString() == "default"
                && e.TryGetProperty("template", out var t) && t.ValueKind == JsonValueKind.String)
                return t.GetString();
        return null;
    }
}
