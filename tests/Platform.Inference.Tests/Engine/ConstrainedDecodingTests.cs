using System.Text;
using System.Text.Json;
using Platform.Inference.Constraints;
using Platform.Inference.Engine;
using Platform.Inference.Tests.Constraints;
using Xunit;

namespace Platform.Inference.Tests.Engine;

public class ConstrainedDecodingTests
{
    // Every string and array is bounded, so every walk through the grammar ends within the token budget: a random
    // model must then finish with "stop" and valid JSON every time, not just usually.
    private const string Schema = """
        {"type":"object","properties":{
          "name":{"type":"string","maxLength":6},
          "age":{"type":"integer"},
          "score":{"type":"number"},
          "ok":{"type":"boolean"},
          "role":{"enum":["user","admin","guest"]},
          "note":{"type":["string","null"],"maxLength":4},
          "tags":{"type":"array","items":{"type":"string","maxLength":3},"maxItems":3},
          "pos":{"type":"object","properties":{"x":{"type":"integer"},"y":{"type":"integer"}},"required":["x","y"],"additionalProperties":false}
        },"required":["name","age","score","ok","role","note","tags","pos"],"additionalProperties":false}
        """;

    private static EngineOptions Options() => new() { MaxConcurrentSequences = 8, MaxWaitingRequests = 64, MaxContextTokens = 1024 };

    private static GenerationRequest Request(Grammar? grammar, ulong seed, int max = 600) => new()
    {
        Messages = [new ChatMessage("user", "Describe a person as JSON.")],
        MaxNewTokens = max,
        Sampling = new SamplingOptions { Temperature = 1f, Seed = seed },
        Grammar = grammar,
    };

    private static async Task<(string Text, string? Finish, List<int> Ids)> Run(ITextEngine engine, GenerationRequest request)
    {
        var text = new StringBuilder();
        string? finish = null;
        var ids = new List<int>();
        await foreach (var u in engine.GenerateAsync(request, CancellationToken.None))
        {
            text.Append(u.TextDelta);
            ids.AddRange(u.TokenIds);
            finish ??= u.FinishReason;
        }
        return (text.ToString(), finish, ids);
    }

    [Fact]
    public async Task GenerateAsync_SchemaManySeedsBatched_AlwaysParsesAndValidates()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options());
        var grammar = Grammar.Json(JsonSchemaCompiler.Compile(Schema));
        // 32 seeds at once: up to 8 decode in one batch, each with its own grammar state.
        var results = await Task.WhenAll(Enumerable.Range(0, 32).Select(seed => Run(engine, Request(grammar, (ulong)seed))));
        foreach (var (text, finish, _) in results)
        {
            Assert.Equal("stop", finish);
            using var doc = JsonDocument.Parse(text);
            Assert.True(SchemaValidator.IsValid(Schema, text), text);
        }
        // A random model really samples: the answers differ.
        Assert.True(results.Select(r => r.Text).Distinct().Count() > 16);
    }

    [Fact]
    public async Task GenerateAsync_ConstrainedNeighbour_LeavesOtherSequencesUnchanged()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options());
        var alone = await Run(engine, Request(null, 7, 40));
        var grammar = Grammar.Json(JsonSchemaCompiler.Compile(Schema));
        var together = await Task.WhenAll(Run(engine, Request(grammar, 1)), Run(engine, Request(null, 7, 40)), Run(engine, Request(grammar, 2)));
        Assert.Equal(alone.Ids, together[1].Ids);
        Assert.True(SchemaValidator.IsValid(Schema, together[0].Text));
    }

    [Fact]
    public async Task GenerateAsync_JsonObjectGreedy_IsAnObjectOrAValidPrefix()
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, Options());
        foreach (var seed in new ulong[] { 1, 2, 3, 4 })
        {
            var (text, finish, _) = await Run(engine, Request(Grammar.JsonObject(), seed, 200));
            var state = GrammarState.Start(Grammar.JsonObject()).Advance(text);
            Assert.NotNull(state);
            if (finish == "stop") Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(text).RootElement.ValueKind);
            else Assert.Equal("length", finish);
        }
    }

    [Fact]
    public void TokenConstraint_StopTokens_OnlyWhereTheOutputMayEnd()
    {
        using var model = Platform.Inference.Loading.ModelLoader.Load(TestModels.Llama);
        var tok = model.Tokenizer;
        int eos = tok.EosTokenId!.Value;
        var c = new TokenConstraint(Grammar.Json(JsonSchemaCompiler.Compile("""{"type":"integer"}""")), tok, [eos]);
        Assert.DoesNotContain(eos, c.AllowedTokens());
        var one = tok.Encode("7")[0];
        c.Advance(one);
        var allowed = c.AllowedTokens();
        Assert.Contains(eos, allowed);
        Assert.All(allowed.Where(t => t != eos), t => Assert.Matches("^[0-9]+$", Encoding.UTF8.GetString(tok.TokenBytes(t))));
        // Special tokens never stand inside JSON.
        Assert.DoesNotContain(allowed, t => t != eos && tok.IsSpecial(t));
    }
}
