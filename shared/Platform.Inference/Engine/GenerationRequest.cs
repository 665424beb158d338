namespace Platform.Inference.Engine;

/// <summary>One chat message. <paramref name="Content"/> may contain <see cref="GenerationRequest.ImagePlaceholder"/>
/// once per entry of <paramref name="Images"/>; the engine splices those visual embeddings there.</summary>
public sealed record ChatMessage(string Role, string Content, IReadOnlyList<VisualEmbedding>? Images = null)
{
    /// <summary>An assistant turn's function calls (rendered in the family's tool-call format).</summary>
    public IReadOnlyList<Chat.ToolCall>? ToolCalls { get; init; }
    /// <summary>A "tool" turn: the id of the call whose result <see cref="Content"/> is.</summary>
    public string? ToolCallId { get; init; }
}

/// <summary>Visual tokens for one input image, row-major [Tokens, Hidden] in the LM's embedding space.</summary>
public sealed record VisualEmbedding(int Tokens, int Hidden, float[] Data);

public sealed record SamplingOptions
{
    /// <summary>0 means greedy.</summary>
    public float Temperature { get; init; } = 1f;
    public int TopK { get; init; }
    public float TopP { get; init; } = 1f;
    public float MinP { get; init; }
    public float RepetitionPenalty { get; init; } = 1f;
    public ulong? Seed { get; init; }
    /// <summary>OpenAI's presence_penalty (-2..2): subtracted once from the logit of every token already generated.</summary>
    public float PresencePenalty { get; init; }
    /// <summary>OpenAI's frequency_penalty (-2..2): subtracted from a token's logit once per time it was generated.</summary>
    public float FrequencyPenalty { get; init; }
    /// <summary>OpenAI's logit_bias: token id to a value (-100..100) added to its logit before sampling.</summary>
    public IReadOnlyDictionary<int, float>? LogitBias { get; init; }
    public static SamplingOptions Greedy { get; } = new() { Temperature = 0f };
}

public sealed record GenerationRequest
{
    public const string ImagePlaceholder = Platform.Contracts.Chat.PromptMarkers.Image;

    /// <summary>Chat messages rendered through the model's chat template (with the generation prompt appended).</summary>
    public IReadOnlyList<ChatMessage>? Messages { get; init; }

    /// <summary>Functions offered to the model: the chat template renders them into the prompt (see <see cref="Chat.ToolCallFormat"/>).</summary>
    public IReadOnlyList<Chat.ToolDefinition>? Tools { get; init; }

    /// <summary>Raw prompt text, used instead of <see cref="Messages"/> when set.</summary>
    public string? Prompt { get; init; }

    /// <summary>Raw prompt token ids, used instead of both when set (benchmarks, parity tests).</summary>
    public IReadOnlyList<int>? PromptTokens { get; init; }

    /// <summary>
    /// A token-level prompt with sets (Set-Based Prompting), used instead of the other prompt forms when set: runs in
    /// order and sets whose members share their start position and are masked from each other. The output does not
    /// depend on the order of a set's members, bit for bit.
    /// </summary>
    public IReadOnlyList<PromptPiece>? PromptPieces { get; init; }

    /// <summary>
    /// When true the rendered prompt (<see cref="Prompt"/>, or <see cref="Messages"/> through the chat template) is split
    /// at <see cref="Engine.SetMarkers"/> delimiters, each piece tokenized on its own, and every delimited group laid out
    /// as one set (see <see cref="PromptPieces"/>). Image placeholders may sit inside members.
    /// </summary>
    public bool UseSetMarkers { get; init; }

    /// <summary>With <see cref="UseSetMarkers"/> and <see cref="Prompt"/>: the images for the prompt's
    /// <see cref="ImagePlaceholder"/>s, in text order.</summary>
    public IReadOnlyList<VisualEmbedding>? PromptImages { get; init; }

    /// <summary>When true every update carries the logits (float32, vocabulary-wide) its token was chosen from.</summary>
    public bool ReturnLogits { get; init; }

    /// <summary>
    /// When set, every update carries the log-probability of each token it holds (<see cref="GenerationUpdate.Logprobs"/>)
    /// and this many most likely alternatives (0 = the chosen token only), from the logits after penalties, bias and
    /// temperature, as OpenAI's logprobs / top_logprobs define them.
    /// </summary>
    public int? Logprobs { get; init; }

    public int MaxNewTokens { get; init; } = 256;
    public SamplingOptions Sampling { get; init; } = new();
    public IReadOnlyList<string> StopStrings { get; init; } = [];
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];

    /// <summary>
    /// When true the model's own end tokens (eos_token_id, the chat template's end of turn) do not end the generation:
    /// it runs to <see cref="MaxNewTokens"/>, a stop string or <see cref="StopTokenIds"/>. vLLM's and llama.cpp's
    /// <c>ignore_eos</c>; load tests and benchmarks use it to get outputs of a known length.
    /// </summary>
    public bool IgnoreEos { get; init; }

    /// <summary>When true the engine reports GILL image slots: on [IMG0] it appends [IMG1..r-1] and returns their hidden states.</summary>
    public bool ReportImageSlots { get; init; }

    /// <summary>
    /// Constrained decoding: every token is chosen so the output stays inside this grammar (a JSON schema, a tool-call
    /// format); the sequence ends ("stop") when the grammar is complete, and end tokens are allowed only where it may end.
    /// </summary>
    public Constraints.Grammar? Grammar { get; init; }

    /// <summary>Opaque id used in logs and traces.</summary>
    public string? RequestId { get; init; }
}
