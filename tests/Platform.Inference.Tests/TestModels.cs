using Platform.Inference.Models;
using Platform.Inference.Tokenization;

namespace Platform.Inference.Tests;

/// <summary>Tiny random models in real HF layout, written once per test run under a temp folder.</summary>
public static class TestModels
{
    public static readonly string Root = Path.Combine(Path.GetTempPath(), $"platform-inference-tests-{Environment.ProcessId}");
    static TestModels()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { if (Directory.Exists(Root)) Directory.Delete(Root, recursive: true); }
            catch (IOException) { }   // best effort: the OS temp cleaner gets the rest
        };
    }

    public static readonly string[] ImageTokens = Enumerable.Range(0, 8).Select(k => $"[IMG{k}]").ToArray();

    private static readonly Lazy<string> LlamaLazy = new(() => TinyModelFactory.Create(Path.Combine(Root, "llama"), TinyModelFactory.TinyConfig(), seed: 1));
    private static readonly Lazy<string> ImageLazy = new(() => TinyModelFactory.Create(Path.Combine(Root, "gill"), TinyModelFactory.TinyConfig() with { TieWordEmbeddings = false }, seed: 2, extraSpecialTokens: ImageTokens));
    private static readonly Lazy<string> ShardedLazy = new(() => TinyModelFactory.Create(Path.Combine(Root, "sharded"), TinyModelFactory.TinyConfig(), seed: 1, sharded: true));
    private static readonly Lazy<string> Qwen2Lazy = new(() => TinyModelFactory.Create(Path.Combine(Root, "qwen2"),
        TinyModelFactory.TinyConfig() with { Architectures = ["Qwen2ForCausalLM"], TieWordEmbeddings = false }, seed: 3));
    private static readonly Lazy<string> SentencePieceLazy = new(() => TinyModelFactory.Create(Path.Combine(Root, "sentencepiece"),
        TinyModelFactory.TinyConfig() with { TieWordEmbeddings = false }, TokenizerKind.SentencePiece, seed: 4, chatTemplate: MistralChatTemplate));

    /// <summary>mistralai/Mistral-7B-Instruct-v0.1's chat_template (tokenizer_config.json).</summary>
    public const string MistralChatTemplate =
        "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
        + "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token + ' ' }}"
        + "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";

    /// <summary>Llama, tied embeddings, GQA 4/2, byte-level BPE, demo chat template.</summary>
    public static string Llama => LlamaLazy.Value;
    /// <summary>Same shape, untied head, with GILL's [IMG0]..[IMG7] special tokens.</summary>
    public static string WithImageTokens => ImageLazy.Value;
    /// <summary>Same weights as <see cref="Llama"/> in two shards + model.safetensors.index.json.</summary>
    public static string Sharded => ShardedLazy.Value;
    /// <summary>Qwen2ForCausalLM: q/k/v biases, untied head.</summary>
    public static string Qwen2 => Qwen2Lazy.Value;
    /// <summary>SentencePiece tokenizer.model (hand-written protobuf), Mistral's chat template.</summary>
    public static string SentencePiece => SentencePieceLazy.Value;

    /// <summary>A fresh copy of a model folder that a test may damage.</summary>
    public static string CopyOf(string folder)
    {
        var dest = Path.Combine(Root, "copies", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dest);
        foreach (var f in Directory.GetFiles(folder)) File.Copy(f, Path.Combine(dest, Path.GetFileName(f)));
        return dest;
    }
}
