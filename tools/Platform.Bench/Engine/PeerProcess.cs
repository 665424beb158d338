using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Platform.Bench.Engine;

/// <summary>What the llama.cpp peer process is asked to run (the same token ids our engine runs).</summary>
internal sealed record PeerRequest(
    string Gguf, int Threads, int ContextTokens, int Repeat,
    int[] DecodePrompt, int DecodeNewTokens, int[] PrefillPrompt,
    int[][] BatchedPrompts, int BatchedNewTokens, int[] ParityTokens, string LogitsPath, string DecodeLogitsPath);

/// <summary>The peer's timings; the parity logits go to <see cref="PeerRequest.LogitsPath"/> (one batch) and
/// <see cref="PeerRequest.DecodeLogitsPath"/> (one token per step) as raw float32.</summary>
internal sealed record PeerResult(
    List<double> Decode, List<double> Prefill, List<double> BatchedSteady, List<double> BatchedEndToEnd, int[] Greedy);

/// <summary>
/// Runs llama.cpp (LLamaSharp) in a child process of this same program (<c>Platform.Bench llamacpp-peer</c>), so
/// it has its own process with its own defaults: no OpenMP setting of ours (the child skips
/// OpenMpEnvironment and its environment drops OMP_/GOMP_/KMP_ variables), no memory or threads of our engine, and
/// llama.cpp's default KV cache type and attention for the timed runs. Parity logits come from a float32-cache
/// context in the same child.
/// </summary>
internal static class PeerProcess
{
    public const string Command = "llamacpp-peer";

    public static PeerResult Run(PeerRequest request, string workDir)
    {
        string requestPath = Path.Combine(workDir, "peer-request.json"), resultPath = Path.Combine(workDir, "peer-result.json");
        File.WriteAllText(requestPath, JsonSerializer.Serialize(request));
        File.Delete(resultPath);
        var psi = new ProcessStartInfo { UseShellExecute = false };
        string self = Environment.ProcessPath ?? throw new InvalidOperationException("no process path");
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            psi.FileName = self;
            psi.ArgumentList.Add(typeof(PeerProcess).Assembly.Location);
        }
        else psi.FileName = self;
        psi.ArgumentList.Add(Command);
        psi.ArgumentList.Add(requestPath);
        psi.ArgumentList.Add(resultPath);
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("OMP_", StringComparison.Ordinal) || k.StartsWith("GOMP_", StringComparison.Ordinal) || k.StartsWith("KMP_", StringComparison.Ordinal)).ToList())
            psi.Environment.Remove(key);
        using var child = Process.Start(psi) ?? throw new InvalidOperationException("could not start the llama.cpp peer process");
        child.WaitForExit();
        if (child.ExitCode != 0 || !File.Exists(resultPath))
            throw new InvalidOperationException($"the llama.cpp peer process exited with {child.ExitCode}");
        return JsonSerializer.Deserialize<PeerResult>(File.ReadAllText(resultPath))!;
    }

    private static void WriteLogits(string path, float[][] logits)
    {
        using var fs = File.Create(path);
        foreach (var row in logits) fs.Write(MemoryMarshal.AsBytes(row.AsSpan()));
    }

    public static float[][] ReadLogits(string path, int positions)
    {
        var all = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(path)).ToArray();
        int vocab = all.Length / positions;
        return Enumerable.Range(0, positions).Select(i => all.AsSpan(i * vocab, vocab).ToArray()).ToArray();
    }

    /// <summary>The child's side: <c>llamacpp-peer REQUEST.json RESULT.json</c>.</summary>
    public static int RunChild(string[] args)
    {
        if (args.Length != 2)
        {
            Console.Error.WriteLine($"usage: Platform.Bench {Command} REQUEST.json RESULT.json");
            return 2;
        }
        var r = JsonSerializer.Deserialize<PeerRequest>(File.ReadAllText(args[0]))!;
        var decode = new List<double>();
        var prefill = new List<double>();
        var steady = new List<double>();
        var endToEnd = new List<double>();
        using (var llama = new LlamaCppPeer(r.Gguf, r.Threads, r.ContextTokens, llamaDefaults: true))
        {
            Console.WriteLine($"llama.cpp (own process {Environment.ProcessId}): LLamaSharp 0.30.0 CPU backend, {r.Threads} threads, default KV cache type and attention");
            llama.Generate(r.DecodePrompt.Take(16).ToArray(), 8);   // warm-up
            for (int i = 0; i < r.Repeat; i++)
            {
                var (tokens, seconds) = llama.Generate(r.DecodePrompt, r.DecodeNewTokens);
                decode.Add((tokens.Length - 1) / seconds);
            }
            Console.WriteLine($"  decode   {string.Join(", ", decode.Select(x => x.ToString("F1")))} tok/s");
            for (int i = 0; i < r.Repeat; i++) prefill.Add(r.PrefillPrompt.Length / llama.Prefill(r.PrefillPrompt));
            Console.WriteLine($"  prefill  {string.Join(", ", prefill.Select(x => x.ToString("F0")))} tok/s");
        }
        int perSequence = r.BatchedPrompts.Max(p => p.Length) + r.BatchedNewTokens + 8;
        using (var llama = new LlamaCppPeer(r.Gguf, r.Threads, perSequence * r.BatchedPrompts.Length, llamaDefaults: true, sequences: r.BatchedPrompts.Length))
        {
            for (int i = 0; i < r.Repeat; i++)
            {
                var (s, e) = llama.Batched(r.BatchedPrompts, r.BatchedNewTokens);
                steady.Add(s);
                endToEnd.Add(e);
            }
            Console.WriteLine($"  batched  {string.Join(", ", steady.Select(x => x.ToString("F1")))} tok/s aggregate over {r.BatchedPrompts.Length} sequences once all decode");
        }
        int[] greedy;
        using (var llama = new LlamaCppPeer(r.Gguf, r.Threads, Math.Max(r.ContextTokens, r.ParityTokens.Length + 8)))
        {
            WriteLogits(r.LogitsPath, llama.Logits(r.ParityTokens));
            WriteLogits(r.DecodeLogitsPath, llama.DecodeLogits(r.ParityTokens));
            greedy = llama.Generate(r.DecodePrompt, r.DecodeNewTokens).Tokens;
        }
        File.WriteAllText(args[1], JsonSerializer.Serialize(new PeerResult(decode, prefill, steady, endToEnd, greedy)));
        return 0;
    }
}
