using System.Text.Json;
using MassTransit.Serialization;
using Platform.Contracts.Chat;

namespace Gateway.Tests.TextLlm;

/// <summary>The structured-output and tool fields survive MassTransit's JSON serializer (the RabbitMQ wire format).</summary>
public class StructuredContractsTests
{
    [Fact]
    public void GenerateChatCompletion_WithFormatToolsAndHistory_RoundTrips()
    {
        var message = new GenerateChatCompletion(Guid.NewGuid(), "m",
            [new ChatTurn("assistant", "", null, [new ChatToolCall("call_1", "f", "{\"a\":1}")]), new ChatTurn("tool", "3", null, null, "call_1")],
            16, new SamplingParameters(0, 1, 7), [], new Uri("queue:x"),
            ResponseFormat: new ResponseFormat(ResponseFormat.JsonSchema, "{\"type\":\"object\"}", "obj", true),
            Tools: new ToolUse([new ChatTool("f", "does f", "{\"type\":\"object\"}", true)], ToolUse.Function, "f", false));
        var json = JsonSerializer.Serialize(message, SystemTextJsonMessageSerializer.Options);
        var back = JsonSerializer.Deserialize<GenerateChatCompletion>(json, SystemTextJsonMessageSerializer.Options)!;
        Assert.Equal(message.ResponseFormat, back.ResponseFormat);
        Assert.Equal("f", back.Tools!.FunctionName);
        Assert.Equal(message.Tools!.Tools[0], back.Tools.Tools[0]);
        Assert.Equal(message.Messages[0].ToolCalls![0], back.Messages[0].ToolCalls![0]);
        Assert.Equal("call_1", back.Messages[1].ToolCallId);

        var chunk = new ChatCompletionChunkProduced(Guid.NewGuid(), 3, "", 9, "tool_calls", null, ToolCalls: [new ChatToolCall("call_2", "g", "{}")]);
        var chunkBack = JsonSerializer.Deserialize<ChatCompletionChunkProduced>(JsonSerializer.Serialize(chunk, SystemTextJsonMessageSerializer.Options),
            SystemTextJsonMessageSerializer.Options)!;
        Assert.Equal(chunk.ToolCalls![0], chunkBack.ToolCalls![0]);
    }
}
