using Platform.Contracts.Chat;
using Platform.Inference.Loading;

namespace Platform.Inference.Engine.Scheduling;

/// <summary>
/// Prompt building: a request's prompt form to token ids. In order of precedence: prompt pieces or set markers
/// (a <see cref="SetLayout"/>, Set-Based Prompting), raw token ids (checked against the vocabulary), raw text (with
/// the tokenizer's BOS), chat messages (rendered by the model's chat template with the generation prompt, images
/// spliced). An empty prompt is the BOS token alone; a prompt that leaves no room for one generated token is a
/// <see cref="ContextLengthExceededException"/>.
/// </summary>
internal sealed class PromptBuilder
{
    private readonly string _modelName;
    private readonly LoadedModel _model;
    private readonly int _maxContextTokens;
    private readonly ImageSplicer _images;

    public PromptBuilder(string modelName, LoadedModel model, int maxContextTokens)
    {
        _modelName = modelName;
        _model = model;
        _maxContextTokens = maxContextTokens;
        _images = new ImageSplicer(model);
    }

    public BuiltPrompt Build(GenerationRequest request)
    {
        var tok = _model.Tokenizer;
        int[] tokens;
        Dictionary<int, float[]>? rows = null;
        bool isChat = false;
        SetLayout? layout = null;
        if (request.PromptPieces is not null || request.UseSetMarkers)
        {
            (layout, isChat) = BuildSetLayout(request);
            tokens = layout.Tokens;
            rows = LayoutRows(layout);
        }
        else if (request.PromptTokens is { } given)
        {
            tokens = given.ToArray();
            CheckVocabulary(tokens);
        }
        else if (request.Prompt is { } prompt)
        {
            tokens = tok.Encode(prompt, addBos: tok.AddBos, addEos: tok.AddEos).ToArray();
        }
        else if (request.Messages is { Count: > 0 } messages)
        {
            isChat = true;
            var text = _model.ChatTemplate.Render(messages, true, request.Tools);
            var images = messages.SelectMany(m => m.Images ?? []).ToList();
            if (images.Count == 0) tokens = tok.Encode(text).ToArray();
            else (tokens, rows) = _images.Splice(text, images);
        }
        else throw new ArgumentException("request has no Messages, Prompt or PromptTokens");
        if (tokens.Length == 0)
        {
            if (tok.BosTokenId is int bos) tokens = [bos];
            else throw new ArgumentException("prompt is empty");
        }
        if (tokens.Length >= _maxContextTokens)
            throw new ContextLengthExceededException($"prompt has {tokens.Length} tokens; model '{_modelName}' accepts at most {_maxContextTokens - 1} prompt tokens (context {_maxContextTokens})");
        return new BuiltPrompt(tokens, rows, isChat, layout);
    }

    private (SetLayout Layout, bool IsChat) BuildSetLayout(GenerationRequest request)
    {
        if (request.PromptPieces is { } given)
        {
            var pieces = new List<(TokenRun?, IReadOnlyList<TokenRun>?)>();
            foreach (var p in given)
            {
                if ((p.Tokens is null) == (p.Members is null)) throw new ArgumentException("a prompt piece has either Tokens or Members");
                if (p.Tokens is { } t) { CheckVocabulary(t); pieces.Add((TokenRun.Of(t), null)); }
                else
                {
                    foreach (var m in p.Members!) CheckVocabulary(m);
                    pieces.Add((null, p.Members!.Select(TokenRun.Of).ToList()));
                }
            }
            return (SetLayout.Build(pieces), false);
        }
        string text;
        bool isChat = false;
        bool addBos = false;
        var images = new Queue<VisualEmbedding>();
        if (request.Prompt is { } prompt)
        {
            text = prompt;
            addBos = _model.Tokenizer.AddBos;
            foreach (var img in request.PromptImages ?? []) images.Enqueue(img);
        }
        else if (request.Messages is { Count: > 0 } messages)
        {
            isChat = true;
            text = _model.ChatTemplate.Render(messages);
            foreach (var img in messages.SelectMany(m => m.Images ?? [])) images.Enqueue(img);
        }
        else throw new ArgumentException("UseSetMarkers needs Messages or Prompt");

        var segments = new List<(TokenRun?, IReadOnlyList<TokenRun>?)>();
        bool first = true;
        foreach (var (run, members) in SplitMarkedText(text))
        {
            if (run is not null)
            {
                if (run.Length > 0 || (first && addBos)) segments.Add((_images.Tokenize(run, images, first && addBos), null));
            }
            else
            {
                // SplitMarkedText always yields the run before a set first, so BOS (if any) has been added.
                segments.Add((null, members!.Select(m => _images.Tokenize(m, images, addBos: false)).ToList()));
            }
            first = false;
        }
        if (images.Count > 0)
            throw new ArgumentException($"messages contain {images.Count} more images than '{GenerationRequest.ImagePlaceholder}' placeholders");
        return (SetLayout.Build(segments), isChat);
    }

    /// <summary>
    /// Splits text at <see cref="SetMarkers"/>: runs outside, and the members of every Start .. End group (split at Split).
    /// Nested or unbalanced markers and empty members are rejected.
    /// </summary>
    public static List<(string? Run, List<string>? Members)> SplitMarkedText(string text)
    {
        var result = new List<(string?, List<string>?)>();
        int at = 0;
        while (true)
        {
            int start = text.IndexOf(SetMarkers.Start, at, StringComparison.Ordinal);
            var before = start < 0 ? text[at..] : text[at..start];
            if (before.Contains(SetMarkers.Split, StringComparison.Ordinal) || before.Contains(SetMarkers.End, StringComparison.Ordinal))
                throw new ArgumentException($"'{SetMarkers.Split}' or '{SetMarkers.End}' outside a set (sets open with '{SetMarkers.Start}')");
            result.Add((before, null));
            if (start < 0) break;
            int bodyStart = start + SetMarkers.Start.Length;
            int end = text.IndexOf(SetMarkers.End, bodyStart, StringComparison.Ordinal);
            if (end < 0) throw new ArgumentException($"a set opened with '{SetMarkers.Start}' is not closed with '{SetMarkers.End}'");
            var body = text[bodyStart..end];
            if (body.Contains(SetMarkers.Start, StringComparison.Ordinal)) throw new ArgumentException("sets cannot be nested");
            var members = body.Split(SetMarkers.Split).ToList();
            if (members.Any(m => m.Length == 0)) throw new ArgumentException("a set has an empty member");
            result.Add((null, members));
            at = end + SetMarkers.End.Length;
        }
        return result;
    }

    private void CheckVocabulary(IReadOnlyList<int> tokens)
    {
        foreach (var t in tokens)
            if (t < 0 || t >= _model.Model.OutputVocabulary) throw new ArgumentException($"prompt token {t} is outside the vocabulary (0..{_model.Model.OutputVocabulary - 1})");
    }

    private static Dictionary<int, float[]>? LayoutRows(SetLayout layout)
    {
        Dictionary<int, float[]>? rows = null;
        for (int i = 0; i < layout.Rows.Length; i++)
            if (layout.Rows[i] is { } r) (rows ??= new())[i] = r;
        return rows;
    }
}
