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
/// the most likely alternatives; <see cref="TextOffset"/> is each token's character offset in the choice's text. With
/// echo the prompt's tokens come first, the first of them with null (nothing predicts it), as OpenAI answers.</summary>
public sealed record CompletionLogprobsDto(
    IReadOnlyList<string> Tokens,
    IReadOnlyList<float?> TokenLogprobs,
    IReadOnlyList<Dictionary<string, float>?> TopLogprobs,
    IReadOnlyList<int> TextOffset);

public static class LogprobDtos
{
    public static string TokenText(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    public static ChatTokenLogprobDto ForChat(GeneratedTokenLogprob t) =>
        new(TokenText(t.Bytes), t.Logprob, t.Bytes.Select(b => (int)b).ToList(),
            t.Top.Select(a => new ChatTopLogprobDto(TokenText(a.Bytes), a.Logprob, a.Bytes.Select(b => (int)b).ToList())).ToList());

    /// <summary>The legacy shape for <paramref name="prompt"/> (echo; offsets from 0) and then <paramref name="tokens"/>
    /// (offsets from <paramref name="startOffset"/>, the length of the text before them).</summary>
    public static CompletionLogprobsDto ForCompletion(IReadOnlyList<GeneratedTokenLogprob> tokens, int startOffset,
        IReadOnlyList<PromptTokenLogprob>? prompt = null)
    {
        var texts = new List<string>(tokens.Count);
        var offsets = new List<int>(tokens.Count);
        var tops = new List<Dictionary<string, float>?>(tokens.Count);
        var values = new List<float?>(tokens.Count);
        int offset = 0;
        foreach (var p in prompt ?? [])
        {
            var text = TokenText(p.Bytes);
            texts.Add(text);
            offsets.Add(offset);
            offset += text.Length;
            values.Add(p.Logprob);
            tops.Add(p.Top is null ? null : TopMap(p.Top));
        }
        offset = startOffset;
        foreach (var t in tokens)
        {
            var text = TokenText(t.Bytes);
            texts.Add(text);
            offsets.Add(offset);
            offset += text.Length;
            values.Add(t.Logprob);
            tops.Add(TopMap(t.Top));
        }
        return new CompletionLogprobsDto(texts, values, tops, offsets);
    }

    private static Dictionary<string, float> TopMap(IReadOnlyList<AlternativeTokenLogprob> alternatives)
    {
        var top = new Dictionary<string, float>();
        // Two alternatives can decode to the same text (partial characters): the first, most likely, is kept.
        foreach (var a in alternatives) top.TryAdd(TokenText(a.Bytes), a.Logprob);
        return top;
    }
}
