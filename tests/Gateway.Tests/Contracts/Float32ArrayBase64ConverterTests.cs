using System.Text.Json;
using MassTransit.Serialization;
using Platform.Contracts.Chat;
using Platform.Contracts.Images;
using Platform.Contracts.Serialization;

namespace Gateway.Tests.Contracts;

/// <summary>The float arrays of image slots and visual tokens on the bus: base64 float32 through MassTransit's own
/// serializer options (the in-memory and RabbitMQ wire format), bit for bit, and the old array form still read.</summary>
public class Float32ArrayBase64ConverterTests
{
    private static readonly float[] Awkward =
        [0f, -0f, 1f, -1.5f, float.Epsilon, -float.Epsilon, 1e-38f, float.MaxValue, float.MinValue, float.PositiveInfinity,
         float.NegativeInfinity, float.NaN, BitConverter.Int32BitsToSingle(0x7fc12345), 0.1f, 3.14159274f];

    private static void AssertBitwise(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                $"value {i}: {expected[i]} came back as {actual[i]}");
    }

    [Fact]
    public void Serialize_ChunkWithImageSlot_ArraysTravelAsBase64AndComeBackBitwise()
    {
        var random = new Random(3);
        var hidden = Awkward.Concat(Enumerable.Range(0, 3 * 8 - Awkward.Length).Select(_ => (float)(random.NextDouble() * 2 - 1))).ToArray();
        var embeds = Enumerable.Range(0, 3 * 8).Select(_ => (float)random.NextDouble()).ToArray();
        var chunk = new ChatCompletionChunkProduced(Guid.NewGuid(), 1, "", 4, null, new ImageSlotStates(3, 8, hidden, embeds));

        var json = JsonSerializer.Serialize(chunk, SystemTextJsonMessageSerializer.Options);
        var back = JsonSerializer.Deserialize<ChatCompletionChunkProduced>(json, SystemTextJsonMessageSerializer.Options)!;

        using var document = JsonDocument.Parse(json);
        var image = document.RootElement.EnumerateObject().First(p => p.Name.Equals("image", StringComparison.OrdinalIgnoreCase)).Value;
        var states = image.EnumerateObject().First(p => p.Name.Equals("hiddenStates", StringComparison.OrdinalIgnoreCase)).Value;
        Assert.Equal(JsonValueKind.String, states.ValueKind);
        Assert.Equal(hidden.Length * sizeof(float), Convert.FromBase64String(states.GetString()!).Length);
        Assert.Equal((3, 8), (back.Image!.Tokens, back.Image.Hidden));
        AssertBitwise(hidden, back.Image.HiddenStates);
        AssertBitwise(embeds, back.Image.InputEmbeddings);
    }

    [Fact]
    public void Serialize_VisualTokens_RoundTripsBitwise()
    {
        var data = Awkward.Concat([2f]).ToArray();
        var json = JsonSerializer.Serialize(new VisualTokens(2, 8, data), SystemTextJsonMessageSerializer.Options);
        var back = JsonSerializer.Deserialize<VisualTokens>(json, SystemTextJsonMessageSerializer.Options)!;
        Assert.DoesNotContain("[", json);
        AssertBitwise(data, back.Data);
    }

    [Fact]
    public void Deserialize_ArrayOfNumbers_ReadsWhatASenderWithoutTheConverterWrote()
    {
        var back = JsonSerializer.Deserialize<ImageSlotStates>("""{"tokens":1,"hidden":3,"hiddenStates":[0.5,-2,1e-3],"inputEmbeddings":[]}""",
            SystemTextJsonMessageSerializer.Options)!;
        Assert.Equal([0.5f, -2f, 1e-3f], back.HiddenStates);
        Assert.Empty(back.InputEmbeddings);
    }

    [Theory]
    [InlineData("\"AAAAAAA=\"", "not a multiple of 4")]        // 5 bytes
    [InlineData("\"not base64!\"", "base64")]
    [InlineData("[1, \"x\"]", "String")]
    [InlineData("{}", "StartObject")]
    public void Deserialize_MalformedArray_ThrowsJsonExceptionThatSaysWhy(string value, string expected)
    {
        var e = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<VisualTokens>($$"""{"tokens":1,"hidden":1,"data":{{value}}}""",
            SystemTextJsonMessageSerializer.Options));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Write_EmptyAndNullArrays_ComeBackAsTheyWent()
    {
        var options = new JsonSerializerOptions { Converters = { new Float32ArrayBase64Converter() } };
        Assert.Equal("\"\"", JsonSerializer.Serialize(Array.Empty<float>(), options));
        Assert.Empty(JsonSerializer.Deserialize<float[]>("\"\"", options)!);
        Assert.Null(JsonSerializer.Deserialize<float[]>("null", options));
    }
}
