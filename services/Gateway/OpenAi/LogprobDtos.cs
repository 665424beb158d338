using System.Text;
using Platform.Contracts.Chat;

namespace Gateway.OpenAi;

/// <summary>choices[].logprobs of a chat completion (and of its stream chunks): one entry per output token.</summary>
public sealed record ChatLogprobsDto(IReadOnlyList<ChatTokenLogprobDto> Content);

/// <summary><see cref="Bytes"/>: the token's UTF-8 bytes (a token may hold part of a character; <see cref="Token"/> then
/// shows U+FFFD where the bytes are incomplete, as OpenAI does).</summary>
public sealed record ChatTokenLogprobDto(string Token, float Logprob, IReadOnlyList<int> Bytes, IReadOnlyList<ChatTopLogprobDto> TopLogprobs);

public sealed record ChatTopLogprobDto(string Token, float Logprob, IReadOnlyList<int> Bytes);

/// <summary>choices[].logprobs of a text completion (OpenAI's legacy shape): parallel arrays, and per token a map of
/// the most likely alternatives; <see cref="TextOffset"/> is each token's character offset in the choice's text.</summary>
public sealed record CompletionLogprobsDto(
    IReadOnlyList<string> Tokens,
    IReadOnlyList<float> TokenLogprobs,
    IReadOnlyList<Dictionary<string, float>> TopLogprobs,
    IReadOnlyList<int> TextOffset);

public static class LogprobDtos
{
    public static string TokenText(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    public static ChatTokenLogprobDto ForChat(GeneratedTokenLogprob t) =>
        new(TokenText(t.Bytes), t.Logprob, t.Bytes.Select(b => (int)b).ToList(),
            t.Top.Select(a => new ChatTopLogprobDto(TokenText(a.Bytes), a.Logprob, a.Bytes.Select(b => (int)b).ToList())).ToList());

    /// <summary>The legacy shape for <paramref name="tokens"/>, offsets counted from <paramref name="startOffset"/>.</summary>
    public static CompletionLogprobsDto ForCompletion(IReadOnlyList<GeneratedTokenLogprob> tokens, int startOffset)
    {
        var texts = new List<string>(tokens.Count);
        var offsets = new List<int>(tokens.Count);
        var tops = new List<Dictionary<string, float>>(tokens.Count);
        int offset = startOffset;
        foreach (var t in tokens)
        {
            var text = TokenText(t.Bytes);
            texts.Add(text);
            offsets.Add(offset);
            offset += text.Length;
            var top = new Dictionary<string, float>();
            // Two alternatives can decode to the same text (partial characters): the first, most likely, is kept.
            foreach (var a in t.Top) top.TryAdd(TokenText(a.Bytes), a.Logprob);
            tops.Add(top);
        }
        return new CompletionLogprobsDto(texts, tokens.Select(t => t.Logprob).ToList(), tops, offsets);
    }
}
