using Platform.Contracts.Images;

namespace Platform.Contracts.Chat;

/// <summary>
/// Streamed output: one or more coalesced decode steps. <see cref="Sequence"/> starts at 0 and increases by one per
/// message so the receiver can restore order. An empty <see cref="TextDelta"/> with no <see cref="FinishReason"/>, no <see cref="Picture"/> and
/// no <see cref="Image"/> is a heartbeat that proves the worker is alive. The last chunk has <see cref="FinishReason"/>
/// set ("stop", "length"). <see cref="CompletionTokens"/> is the running total for the sequence. <see cref="Image"/>,
/// when set, is an image slot the model produced right after <see cref="TextDelta"/> (multimodal models).
/// <see cref="Logprobs"/> (when the request asked for them) has one entry per token in this chunk, in order.
/// <see cref="ToolCalls"/>, on the last chunk (finish reason "tool_calls"), are the function calls the model made.
/// <see cref="CachedPromptTokens"/>, on the last chunk, counts the prompt tokens the worker served from its prefix
/// cache (null from workers that do not report it).
/// <see cref="Picture"/>, when set, is a picture an image-token model drew right after <see cref="TextDelta"/>, already
/// decoded to a PNG by its worker (GILL models use <see cref="Image"/>, drawn later by ImageGen).
/// </summary>
public sealed record ChatCompletionChunkProduced(
    Guid RequestId,
    long Sequence,
    string TextDelta,
    int CompletionTokens,
    string? FinishReason,
    ImageSlotStates? Image = null,
    IReadOnlyList<GeneratedTokenLogprob>? Logprobs = null,
    IReadOnlyList<ChatToolCall>? ToolCalls = null,
    int? CachedPromptTokens = null,
    DecodedPicture? Picture = null);
