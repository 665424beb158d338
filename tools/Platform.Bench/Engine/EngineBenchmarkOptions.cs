namespace Platform.Bench.Engine;

/// <summary>Options of the <c>engine</c> command (see Program.cs usage).</summary>
internal sealed record EngineBenchmarkOptions
{
    public string? JsonPath { get; init; }
    public int Threads { get; init; } = Environment.ProcessorCount;
    public bool Quick { get; init; }
    /// <summary>Only the logit comparisons and the greedy tokens, no timings (<c>--parity-only</c>).</summary>
    public bool ParityOnly { get; init; }
    public int Repeat { get; init; } = 3;
    public string WorkDir { get; init; } = Path.Combine(Path.GetTempPath(), "platform-bench");
    /// <summary>none, q8_0 or q4_0: both engines run the same GGUF file, quantized by llama.cpp's quantizer.</summary>
    public Platform.Inference.Quantization.QuantType Quantization { get; init; }
    /// <summary>"smollm" (SmolLM-135M shape) or "mixtral" (a Mixtral-shaped Mixture-of-Experts model, see <see cref="BenchModels"/>).</summary>
    public string Model { get; init; } = "smollm";

    public int DecodePromptTokens => Quick ? 32 : 128;
    public int DecodeNewTokens => Quick ? 16 : 128;
    public int PrefillTokens => Quick ? 128 : 512;
    public int Streams => 16;
    public int BatchedPromptTokens => Quick ? 32 : 128;
    public int BatchedNewTokens => Quick ? 16 : 128;
    public int ParityTokens => Quick ? 16 : 64;
    public int ContextTokens => Math.Max(PrefillTokens + 8, Math.Max(DecodePromptTokens + DecodeNewTokens, BatchedPromptTokens + BatchedNewTokens) + 8);

    /// <summary>Parses the arguments after "engine"; throws <see cref="ArgumentException"/> with the offending option.</summary>
    public static EngineBenchmarkOptions Parse(string[] args)
    {
        var o = new EngineBenchmarkOptions();
        bool quickSeen = false, repeatSeen = false;
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int Positive(string name)
            {
                var v = Value();
                return int.TryParse(v, out int n) && n > 0 ? n : throw new ArgumentException($"{name} must be a positive integer, got '{v}'");
            }
            switch (args[i])
            {
                case "--json": o = o with { JsonPath = Value() }; break;
                case "--threads": o = o with { Threads = Positive("--threads") }; break;
                case "--quick": o = o with { Quick = true }; quickSeen = true; break;
                case "--parity-only": o = o with { ParityOnly = true }; break;
                case "--repeat": o = o with { Repeat = Positive("--repeat") }; repeatSeen = true; break;
                case "--work": o = o with { WorkDir = Value() }; break;
                case "--quantization": o = o with { Quantization = Platform.Inference.Quantization.QuantTypes.Parse(Value()) }; break;
                case "--model":
                    var model = Value();
                    o = o with { Model = BenchModels.Names.Contains(model) ? model : throw new ArgumentException($"--model must be one of {string.Join(", ", BenchModels.Names)}, got '{model}'") };
                    break;
                default: throw new ArgumentException($"unknown option '{args[i]}'");
            }
        }
        if (quickSeen && !repeatSeen) o = o with { Repeat = 1 };
        return o;
    }
}
