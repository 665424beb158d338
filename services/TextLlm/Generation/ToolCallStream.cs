using System.Runtime.CompilerServices;
using System.Text;
using Platform.Inference.Chat;
using Platform.Inference.Engine;

namespace TextLlm.Generation;

/// <summary>
/// Reads function calls out of a generation in the model family's format: text passes through until the output
/// begins (or may still begin) with the format's trigger; from then on it is held back, and at the end the calls are
/// parsed and sent on the last update with finish reason "tool_calls". Text that turns out not to be a call (the
/// trigger diverged, or a call that does not parse, e.g. cut off by max_tokens) is released as ordinary text.
/// </summary>
public static class ToolCallStream
{
    public static async IAsyncEnumerable<GenerationUpdate> ReadAsync(IAsyncEnumerable<GenerationUpdate> updates, ToolCallFormat format,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var text = new StringBuilder();
        int released = 0;
        bool plain = false;
        await foreach (var u in updates.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            text.Append(u.TextDelta);
            if (!plain && !format.MayStartCall(text.ToString())) plain = true;
            if (u.FinishReason is null)
            {
                if (!plain) { yield return u with { TextDelta = "" }; continue; }
                var delta = text.ToString(released, text.Length - released);
                released = text.Length;
                yield return u with { TextDelta = delta };
                continue;
            }
            // The last update: calls if the held text is a call, else everything not yet released.
            if (!plain && u.FinishReason == "stop" && format.Parse(text.ToString()) is { } parsed)
            {
                var calls = parsed.Calls.Select(c => new ToolCall($"call_{Guid.NewGuid():N}"[..29], c.Name, c.Arguments)).ToList();
                yield return u with { TextDelta = parsed.Content ?? "", FinishReason = "tool_calls", ToolCalls = calls };
            }
            else
            {
                yield return u with { TextDelta = text.ToString(released, text.Length - released) };
            }
            yield break;
        }
    }
}
