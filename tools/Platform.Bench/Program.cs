using Platform.Bench.Engine;
using Platform.Bench.Export;

// Subcommand dispatcher; each command lives in its own folder and returns the process exit code.
return args.Length == 0 ? Usage() : args[0] switch
{
    "engine" => await EngineBenchmark.RunAsync(args[1..]),
    "export-gguf" => ExportGgufCommand.Run(args[1..]),
    "-h" or "--help" or "help" => Usage(0),
    _ => Usage(),
};

static int Usage(int code = 2)
{
    Console.Error.WriteLine("""
        usage: Platform.Bench <command> [options]
          engine       [--json PATH] [--threads N] [--quick] [--repeat R] [--work DIR]
                       our TorchSharp engine vs llama.cpp (LLamaSharp) on a SmolLM-135M-shaped random model
          export-gguf  <hf-model-folder> <out.gguf> [--verify] [--threads N]
                       write a Hugging Face Llama/Mistral/Qwen2 checkpoint as float32 GGUF for llama.cpp
        """);
    return code;
}
