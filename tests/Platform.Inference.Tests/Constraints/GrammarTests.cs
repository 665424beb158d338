using System.Text;
using System.Text.Json;
using Platform.Inference.Constraints;

namespace Platform.Inference.Tests.Constraints;

public class GrammarTests
{
    private static GrammarState Start(string schema) => GrammarState.Start(Grammar.Json(JsonSchemaCompiler.Compile(schema)));

    private static bool Prefix(string schema, string text) => Start(schema).Advance(text) is not null;

    private static bool Complete(string schema, string text) => Start(schema).Advance(text) is { } s && s.CanEnd;

    [Theory]
    [InlineData("{", true)]
    [InlineData(" {\"a\"", true)]
    [InlineData("{\"a\": [1, 2.5e-3, \"x\", true, null, {}]", true)]
    [InlineData("[", false)]
    [InlineData("\"text\"", false)]
    [InlineData("{\"a\":}", false)]
    [InlineData("{,", false)]
    [InlineData("{\"a\" 1", false)]
    [InlineData("{\"a\":01", false)]
    [InlineData("{\"a\":1.}", false)]
    [InlineData("{\"a\":\"\\x\"", false)]
    [InlineData("{\"a\":\"\\ud800\"", false)]
    [InlineData("{\"a\":\"\\u00e9\"}", true)]
    [InlineData("{\"a\":tru", true)]
    [InlineData("{\"a\":trux", false)]
    public void JsonObject_Prefixes_AcceptedExactlyWhenValid(string text, bool valid)
    {
        Assert.Equal(valid, GrammarState.Start(Grammar.JsonObject()).Advance(text) is not null);
    }

    [Fact]
    public void JsonObject_ClosedObject_IsComplete()
    {
        var s = GrammarState.Start(Grammar.JsonObject()).Advance("{\"a\": {\"b\": [1, {\"c\": \"\u00e9\"}]}}")!;
        Assert.True(s.IsComplete);
        Assert.Null(s.Advance(" "));
    }

    [Fact]
    public void String_ControlCharactersAndBrokenUtf8_AreRefused()
    {
        var s = GrammarState.Start(Grammar.JsonObject()).Advance("{\"a\":\"")!;
        Assert.Null(s.Advance([0x0A]));
        Assert.Null(s.Advance([0xC3, 0x28]));        // lead byte without its continuation
        Assert.Null(s.Advance([0xED, 0xA0, 0x80]));  // an encoded surrogate (RFC 3629 excludes it)
        Assert.NotNull(s.Advance([0xE2, 0x82, 0xAC, (byte)'"']));   // the euro sign, then the closing quote
        Assert.NotNull(s.Advance([0xE2]));          // a character split across tokens: the prefix is fine
    }

    private const string Person = """
        {"type":"object","properties":{
          "name":{"type":"string","minLength":1,"maxLength":5},
          "age":{"type":"integer"},
          "height":{"type":"number"},
          "admin":{"type":"boolean"},
          "nick":{"type":["string","null"]},
          "role":{"enum":["user","admin"]},
          "kind":{"const":"person"},
          "tags":{"type":"array","items":{"type":"string"},"minItems":1,"maxItems":2},
          "address":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}
        },"required":["name","age"],"additionalProperties":false}
        """;

    [Theory]
    [InlineData("{\"name\":\"ann\",\"age\":3}", true)]
    [InlineData("{\"age\":-3,\"name\":\"ann\"}", true)]
    [InlineData("{\"name\":\"ann\"}", false)]                         // required age missing
    [InlineData("{\"name\":\"\",\"age\":3}", false)]                 // minLength
    [InlineData("{\"name\":\"annabel\",\"age\":3}", false)]          // maxLength
    [InlineData("{\"name\":\"a\",\"age\":3.5}", false)]              // integer
    [InlineData("{\"name\":\"a\",\"age\":3,\"height\":1.5e2}", true)]
    [InlineData("{\"name\":\"a\",\"age\":3,\"admin\":true}", true)]
    [InlineData("{\"name\":\"a\",\"age\":3,\"admin\":1}", false)]    // boolean
    [InlineData("{\"name\":\"a\",\"age\":3,\"nick\":null}", true)]
    [InlineData("{\"name\":\"a\",\"age\":3,\"nick\":\"x\"}", true)]
    [InlineData("{\"name\":\"a\",\"age\":3,\"role\":\"admin\"}", true)]
    [InlineData("{\"name\":\"a\",\"age\":3,\"role\":\"root\"}", false)] // enum
    [InlineData("{\"name\":\"a\",\"age\":3,\"kind\":\"person\"}", true)]
    [InlineData("{\"name\":\"a\",\"age\":3,\"kind\":\"dog\"}", false)]  // const
    [InlineData("{\"name\":\"a\",\"age\":3,\"tags\":[]}", false)]      // minItems
    [InlineData("{\"name\":\"a\",\"age\":3,\"tags\":[\"x\",\"y\"]}", true)]
    [InlineData("{\"name\":\"a\",\"age\":3,\"tags\":[\"x\",\"y\",\"z\"]}", false)] // maxItems
    [InlineData("{\"name\":\"a\",\"age\":3,\"tags\":[1]}", false)]     // item type
    [InlineData("{\"name\":\"a\",\"age\":3,\"address\":{\"city\":\"Oslo\"}}", true)]
    [InlineData("{\"name\":\"a\",\"age\":3,\"address\":{}}", false)]   // nested required
    [InlineData("{\"name\":\"a\",\"age\":3,\"address\":{\"city\":\"x\",\"zip\":1}}", false)] // nested additionalProperties false
    [InlineData("{\"name\":\"a\",\"age\":3,\"extra\":1}", false)]      // additionalProperties false
    public void Schema_Features_MatchTheValidator(string text, bool valid)
    {
        Assert.Equal(valid, Complete(Person, text) && Start(Person).Advance(text)!.IsComplete);
        // The independent validator agrees on every complete case (the grammar refuses a prefix only for invalid text).
        Assert.Equal(valid, SchemaValidator.IsValid(Person, text));
    }

    [Fact]
    public void Schema_RepeatedKey_IsRefused()
    {
        // JSON parsers keep the last of repeated keys (so a validator passes it), but the grammar never writes one.
        Assert.False(Prefix(Person, "{\"name\":\"a\",\"name\""));
    }

    [Fact]
    public void Schema_TopLevelNumber_CanEndButIsNotComplete()
    {
        var s = Start("""{"type":"number"}""").Advance("12")!;
        Assert.True(s.CanEnd);
        Assert.False(s.IsComplete);
        Assert.NotNull(s.Advance(".5"));
        Assert.False(Start("""{"type":"integer"}""").Advance("1")!.Advance(".") is not null);
    }

    [Fact]
    public void Schema_RecursiveRef_NestsAndValidates()
    {
        const string tree = """
            {"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},
              "required":["v","kids"],"additionalProperties":false}},"$ref":"#/$defs/node"}
            """;
        const string text = "{\"v\":1,\"kids\":[{\"v\":2,\"kids\":[]},{\"v\":3,\"kids\":[{\"v\":4,\"kids\":[]}]}]}";
        Assert.True(Start(tree).Advance(text)!.IsComplete);
        Assert.False(Prefix(tree, "{\"v\":1,\"kids\":[{\"v\":\"x\""));
        Assert.True(SchemaValidator.IsValid(tree, text));
    }

    [Theory]
    [InlineData("""{"type":"string","pattern":"^a"}""", "pattern")]
    [InlineData("""{"type":"string","format":"date"}""", "format")]
    [InlineData("""{"type":"number","minimum":1}""", "minimum")]
    [InlineData("""{"type":"object","properties":{"a":{"type":"integer","multipleOf":2}}}""", "multipleOf")]
    [InlineData("""{"allOf":[{"type":"string"}]}""", "allOf")]
    [InlineData("""{"anyOf":[{"type":"object"},{"type":"object","properties":{"a":{"type":"string"}}}]}""", "anyOf")]
    [InlineData("""{"type":"object","required":["a"]}""", "required")]
    [InlineData("""{"$ref":"https://example.com/s.json"}""", "$ref")]
    [InlineData("""{"type":"strin"}""", "type")]
    [InlineData("""{"type":"integer","enum":["a"]}""", "enum")]
    public void Compile_Unsupported_NamesTheKeyword(string schema, string keyword)
    {
        var e = Assert.Throws<UnsupportedSchemaException>(() => JsonSchemaCompiler.Compile(schema));
        Assert.Equal(keyword, e.Keyword);
        Assert.Contains(keyword, e.Message);
    }

    [Fact]
    public void Compile_UnsupportedNested_PointsAtIt()
    {
        var e = Assert.Throws<UnsupportedSchemaException>(() => JsonSchemaCompiler.Compile(
            """{"type":"object","properties":{"zip":{"type":"string","pattern":"[0-9]+"}}}"""));
        Assert.Equal("#/properties/zip", e.Pointer);
    }

    /// <summary>Random walks: at each step a random byte among those the grammar allows; every finished text must validate.</summary>
    [Theory]
    [InlineData(Person)]
    [InlineData("""{"type":"object","properties":{"a":{"anyOf":[{"type":"string","maxLength":3},{"type":"integer"},{"type":"null"}]},"b":{"type":"array","items":{"type":"number"},"maxItems":3}},"required":["a","b"],"additionalProperties":false}""")]
    [InlineData("""{"type":"object","additionalProperties":{"type":"boolean"}}""")]
    [InlineData("""{"type":"array","items":{"enum":[1,12,"x",null,{"k":[true]}]},"maxItems":4}""")]
    public void RandomWalks_AlwaysValidate(string schema)
    {
        var grammar = Grammar.Json(JsonSchemaCompiler.Compile(schema));
        int finished = 0;
        for (int seed = 0; seed < 200; seed++)
        {
            var rng = new Random(seed);
            var state = GrammarState.Start(grammar);
            var text = new List<byte>();
            while (!state.IsComplete && text.Count < 400)
            {
                if (state.CanEnd && rng.Next(4) == 0) break;
                var options = Enumerable.Range(0, 256).Select(b => (byte)b).Where(b => state.Advance([b]) is not null).ToList();
                Assert.NotEmpty(options);   // never a dead end
                // Prefer closing bytes a little, so walks finish.
                var pick = options.Contains((byte)'"') && rng.Next(3) == 0 ? (byte)'"'
                    : options.Contains((byte)']') && rng.Next(3) == 0 ? (byte)']'
                    : options.Contains((byte)'}') && rng.Next(3) == 0 ? (byte)'}'
                    : options[rng.Next(options.Count)];
                state = state.Advance([pick])!;
                text.Add(pick);
            }
            if (!state.CanEnd) continue;
            finished++;
            var json = Encoding.UTF8.GetString(text.ToArray());
            Assert.True(SchemaValidator.IsValid(schema, json), $"seed {seed}: {json}");
        }
        Assert.True(finished > 100, $"only {finished} of 200 walks finished");
    }

    [Fact]
    public void Trigger_DivergingText_BecomesFree()
    {
        var tool = Grammar.Sequence(Grammar.Literal("<tool_call>"), Grammar.JsonObject(), Grammar.Literal("</tool_call>"));
        var g = Grammar.Trigger("<tool_call>", tool);
        var start = GrammarState.Start(g);
        Assert.True(start.Advance("Hello")!.IsFree);
        Assert.True(start.Advance("<tool")!.CanEnd);
        Assert.Null(start.Advance("<tool_call>x"));
        Assert.True(start.Advance("<tool_call>{\"a\":1}</tool_call>")!.IsComplete);
    }

    [Fact]
    public void Choice_PicksTheRuleByLiteral()
    {
        var g = Grammar.Choice([
            ("{\"name\": \"a\", \"arguments\": ", Grammar.Sequence(Grammar.Json(JsonSchemaCompiler.Compile("""{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"],"additionalProperties":false}""")), Grammar.Literal("}"))),
            ("{\"name\": \"ab\", \"arguments\": ", Grammar.Sequence(Grammar.JsonObject(), Grammar.Literal("}"))),
        ]);
        var s = GrammarState.Start(g);
        Assert.True(s.Advance("{\"name\": \"a\", \"arguments\": {\"x\": 1}}")!.IsComplete);
        Assert.Null(s.Advance("{\"name\": \"a\", \"arguments\": {\"y\": 1}"));
        Assert.True(s.Advance("{\"name\": \"ab\", \"arguments\": {\"y\": 1}}")!.IsComplete);
        Assert.Null(s.Advance("{\"name\": \"b\""));
        Assert.Throws<ArgumentException>(() => Grammar.Choice([("ab", Grammar.JsonObject()), ("abc", Grammar.JsonObject())]));
    }

    [Fact]
    public void Repeat_SeparatorStartsAnotherItem_UpToMax()
    {
        var item = Grammar.Sequence(Grammar.Literal("<c>"), Grammar.JsonObject(), Grammar.Literal("</c>"));
        var s = GrammarState.Start(Grammar.Repeat(item, "\n", 1, 2));
        var one = s.Advance("<c>{}</c>")!;
        Assert.True(one.CanEnd);
        var two = one.Advance("\n<c>{\"a\":2}</c>")!;
        Assert.True(two.IsComplete);
        Assert.Null(two.Advance("\n"));
    }

    [Fact]
    public void Literals_EnumWithPrefixValues_EndOnlyWhenWhole()
    {
        var s = Start("""{"type":"object","properties":{"n":{"enum":[1,12]}},"required":["n"],"additionalProperties":false}""");
        Assert.True(s.Advance("{\"n\":1}")!.IsComplete);
        Assert.True(s.Advance("{\"n\":12}")!.IsComplete);
        Assert.Null(s.Advance("{\"n\":123"));
        Assert.Null(s.Advance("{\"n\":2"));
        _ = JsonDocument.Parse("{\"n\":12}");
    }
}
