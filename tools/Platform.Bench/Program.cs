using Platform.Bench.Batch;
using Platform.Bench.Constrained;
using Platform.Bench.Engine;
using Platform.Bench.Export;
using Platform.Bench.Gateway;
using Platform.Bench.Multimodal;
using Platform.Inference.Runtime;

// Before any native library loads: short OpenMP spin (see OpenMpEnvironment); applies to libtorch and llama.cpp alike.
// The llama.cpp peer process keeps llama.cpp's own defaults.
string? omp = args is [PeerProcess.Command, ..] ? null : OpenMpEnvironment.ApplyDefaults();
if (omp is not null) Console.WriteLine($"OpenMP: {omp}");

// Subcommand dispatcher; each command lives in its own folder and returns the process exit code.
return args.Length == 0 ? Usage() : args[0] switch
{
    "batch" => await BatchBenchmark.RunAsync(args[1..]),
    "constrained" => await ConstrainedBenchmark.RunAsync(args[1..]),
    "engine" => await EngineBenchmark.RunAsync(args[1..]),
    "export-gguf" => ExportGgufCommand.Run(args[1..]),
    PeerProcess.Command => PeerProcess.RunChild(args[1..]),
    "gateway" => await GatewayBenchmark.RunAsync(args[1..]),
    "kv" => await KvCacheBenchmark.RunAsync(args[1..]),
    "multimodal" => await MultimodalBenchmark.RunAsync(args[1..]),
    "-h" or "--help" or "help" => Usage(0),
    _ => Usage(),
};

static int Usage(int code = 2)
{
    Console.Error.WriteLine("""
        usage: Platform.Bench <command> [options]
          batch        [--requests N] [--max-tokens N] [--clients C] [--budget B] [--probes P] [--json PATH]
                       a 1,000-request batch vs the same requests as concurrent interactive calls; chat latency while it runs
          constrained  [--model DIR]... [--seeds S] [--threads N] [--json PATH]
                       per-token cost of JSON-schema constrained decoding: engine decode with vs without the grammar, and the mask alone
          engine       [--json PATH] [--threads N] [--quick] [--repeat R] [--work DIR] [--quantization none|q8_0|q4_0] [--model smollm|mixtral]
                       our TorchSharp engine vs llama.cpp (LLamaSharp) on a SmolLM-135M-shaped random model
                       (or a Mixtral-shaped Mixture-of-Experts one: hidden 512, 8 layers, 8 experts, top-2)
          kv           [--threads N] [--slots S] [--context T] [--prefix P] [--rounds R] [--work DIR] [--json PATH]
                       paged KV cache on a SmolLM-135M-shaped 32k-context model: KV memory at start, first-token time with a
                       long shared prefix cold vs from the prefix cache
          gateway      [--json PATH] [--requests N] [--max-tokens N] | write-default-model [FOLDER]
                       time the gateway and bus add over the in-process engine (in-memory, RabbitMQ), 32-stream req/s
          multimodal   [--model DIR] [--requests N] [--clients C] [--concurrent-requests N] [--decoder-runs N] [--threads N] [--json PATH]
                       all-in-one image-generating chat: latency median/p99, images/s with C clients; ONNX vs TorchSharp decoder
          export-gguf  <hf-model-folder> <out.gguf> [--verify] [--threads N]
                       write a Hugging Face Llama/Mistral/Qwen2 checkpoint as float32 GGUF for llama.cpp
        """);
    return code;
}
