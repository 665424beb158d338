using Gateway.OpenAi;
using Platform.Contracts.Chat;

namespace Gateway.Validation;

/// <summary>Checks an OpenAI chat-completions body field by field and maps it to <see cref="ValidatedChatRequest"/>.</summary>
public static class ChatRequestValidator
{
    private static readonly HashSet<string> Roles = ["system", "developer", "user", "assistant", "tool"];

    public static (ValidatedChatRequest? Request, ApiError? Error) Validate(ChatCompletionRequestDto dto, GatewayOptions options)
    {
        if (RequestFields.Check(dto.UnknownFields) is { } unknown) return Fail(unknown);
        if (RequestFields.Check(dto.StreamOptions?.UnknownFields, "stream_options") is { } unknownOption) return Fail(unknownOption);
        if (string.IsNullOrWhiteSpace(dto.Model))
            return Fail(ApiError.Invalid("You must provide a model parameter.", "model", "missing_required_parameter"));
        if (dto.Messages is null)
            return Fail(ApiError.Invalid("Missing required parameter: 'messages'.", "messages", "missing_required_parameter"));
        if (dto.Messages.Count == 0)
            return Fail(ApiError.Invalid("'messages' must contain at least one message.", "messages", "empty_array"));

        var turns = new List<ChatTurn>(dto.Messages.Count);
        var images = new List<DecodedImage>();
        for (var i = 0; i < dto.Messages.Count; i++)
        {
            var m = dto.Messages[i];
            var at = $"messages[{i}]";
            if (m is null) return Fail(ApiError.Invalid($"{at} is null.", at, "invalid_type"));
            if (RequestFields.Check(m.UnknownFields, at, RequestFields.MessageFieldsHandledElsewhere) is { } unknownField) return Fail(unknownField);
            if (string.IsNullOrEmpty(m.Role))
                return Fail(ApiError.Invalid($"Missing required parameter: '{at}.role'.", $"{at}.role", "missing_required_parameter"));
            if (!Roles.Contains(m.Role))
                return Fail(ApiError.Invalid(
                    $"Invalid value '{m.Role}' for {at}.role; supported roles are system, developer, user, assistant and tool.", $"{at}.role"));
            // Function calls in the history: an assistant turn's tool_calls (its content may then be null), a tool turn's id.
            var (calls, callsError) = StructuredRequestValidator.ValidateCalls(m.Role == "assistant" ? m.ToolCalls : null, at);
            if (callsError is not null) return Fail(callsError);
            if (m.Role == "tool" && string.IsNullOrEmpty(m.ToolCallId))
                return Fail(ApiError.Invalid($"Missing required parameter: '{at}.tool_call_id'.", $"{at}.tool_call_id", "missing_required_parameter"));
            if (m.Content is null && calls is { Count: > 0 })
            {
                turns.Add(new ChatTurn("assistant", "", null, calls));
                continue;
            }
            if (m.Content is null)
                return Fail(ApiError.Invalid($"Missing required parameter: '{at}.content'.", $"{at}.content", "missing_required_parameter"));

            string text;
            if (m.Content.Parts is null) text = m.Content.Text ?? "";
            else
            {
                if (m.Content.Parts.Count == 0)
                    return Fail(ApiError.Invalid($"{at}.content must not be an empty array.", $"{at}.content", "empty_array"));
                var texts = new List<string>();
                var sets = new List<string?>();
                for (var j = 0; j < m.Content.Parts.Count; j++)
                {
                    var p = m.Content.Parts[j];
                    var pat = $"{at}.content[{j}]";
                    if (p?.Set is { } setName && (p.Type != "text" || setName.Length == 0))
                        return Fail(ApiError.Invalid($"'set' is allowed on text parts only and must not be empty ({pat}).", $"{pat}.set"));
                    switch (p?.Type)
                    {
                        case "text":
                            if (p.Text is null)
                                return Fail(ApiError.Invalid($"Missing required parameter: '{pat}.text'.", $"{pat}.text", "missing_required_parameter"));
                            if (SetMarkers.ContainsAny(p.Text))
                                return Fail(ApiError.Invalid($"{pat}.text must not contain the set markers; mark set members with the 'set' field of text parts.", $"{pat}.text"));
                            if (p.Set is not null && p.Text.Length == 0)
                                return Fail(ApiError.Invalid($"A set member must not be empty ({pat}).", $"{pat}.text"));
                            texts.Add(p.Text);
                            sets.Add(p.Set);
                            break;
                        case "image_url":
                            if (m.Role != "user")
                                return Fail(ApiError.Invalid($"Image content is only allowed in user messages ({pat}).", pat));
                            if (string.IsNullOrEmpty(p.ImageUrl?.Url))
                                return Fail(ApiError.Invalid($"Missing required parameter: '{pat}.image_url.url'.", $"{pat}.image_url.url",
                                    "missing_required_parameter"));
                            if (images.Count >= options.MaxImagesPerRequest)
                                return Fail(ApiError.Invalid($"Too many images; at most {options.MaxImagesPerRequest} per request.", pat));
                            var (type, bytes, error) = DataUrlImageDecoder.Decode(p.ImageUrl.Url, options.MaxImageBytes);
                            if (error is not null)
                                return Fail(ApiError.Invalid(error, $"{pat}.image_url.url", "invalid_image"));
                            images.Add(new DecodedImage(i, j, type!, bytes!));
                            break;
                        default:
                            return Fail(ApiError.Invalid(
                                $"Invalid content part type '{p?.Type}' at {pat}; supported types are text and image_url.", $"{pat}.type"));
                    }
                }
                if (sets.Any(x => x is not null) && m.Content.Parts.Any(p => p?.Type == "image_url"))
                    return Fail(ApiError.Invalid($"{at}.content: set parts cannot share a message with images.", $"{at}.content"));
                text = SetParts.Join(texts, sets);
            }
            if (m.Content.Parts is null && SetMarkers.ContainsAny(text))
                return Fail(ApiError.Invalid($"{at}.content must not contain the set markers; mark set members with the 'set' field of text parts.", $"{at}.content"));
            turns.Add(new ChatTurn(m.Role == "developer" ? "system" : m.Role, text, null, calls, m.Role == "tool" ? m.ToolCallId : null));
        }

        var maxTokens = dto.MaxCompletionTokens ?? dto.MaxTokens;
        var maxTokensParam = dto.MaxCompletionTokens is not null ? "max_completion_tokens" : "max_tokens";
        if (maxTokens is < 1)
            return Fail(ApiError.Invalid($"Invalid '{maxTokensParam}': {maxTokens}; it must be at least 1.", maxTokensParam));
        if (dto.Temperature is { } t && (float.IsNaN(t) || t < 0 || t > 2))
            return Fail(ApiError.Invalid($"Invalid 'temperature': {t}; it must be between 0 and 2.", "temperature"));
        if (dto.TopP is { } tp && (float.IsNaN(tp) || tp <= 0 || tp > 1))
            return Fail(ApiError.Invalid($"Invalid 'top_p': {tp}; it must be greater than 0 and at most 1.", "top_p"));
        var n = dto.N ?? 1;
        if (n < 1 || n > options.MaxChoices)
            return Fail(ApiError.Invalid($"Invalid 'n': {n}; it must be between 1 and {options.MaxChoices}.", "n"));
        var stop = dto.Stop ?? [];
        if (stop.Count > options.MaxStopSequences)
            return Fail(ApiError.Invalid($"Invalid 'stop': at most {options.MaxStopSequences} sequences are allowed.", "stop"));
        if (stop.Any(string.IsNullOrEmpty))
            return Fail(ApiError.Invalid("Invalid 'stop': sequences must not be empty.", "stop"));
        var stream = dto.Stream ?? false;
        if (dto.StreamOptions is not null && !stream)
            return Fail(ApiError.Invalid("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options"));

        if (dto.TopLogprobs is { } top && (top < 0 || top > SamplingFields.MaxTopLogprobs))
            return Fail(ApiError.Invalid($"Invalid 'top_logprobs': {top}; it must be between 0 and 20.", "top_logprobs"));
        if (dto.TopLogprobs is not null && dto.Logprobs != true)
            return Fail(ApiError.Invalid("'top_logprobs' requires 'logprobs' to be true.", "top_logprobs"));
        var (presence, frequency, bias, samplingError) = SamplingFields.Validate(dto.PresencePenalty, dto.FrequencyPenalty, dto.LogitBias);
        if (samplingError is not null) return Fail(samplingError);
        var (format, tools, structuredError) = StructuredRequestValidator.Validate(dto);
        if (structuredError is not null) return Fail(structuredError);

        var sampling = new SamplingParameters(dto.Temperature ?? 1f, dto.TopP ?? 1f, dto.Seed is { } s ? unchecked((ulong)s) : null,
            dto.IgnoreEos ?? false, presence, frequency, bias);
        return (new ValidatedChatRequest(dto.Model, turns, images, maxTokens, sampling, stop, n, stream,
            stream && dto.StreamOptions?.IncludeUsage == true, dto.Logprobs == true ? dto.TopLogprobs ?? 0 : null, format, tools), null);
    }

    private static (ValidatedChatRequest?, ApiError?) Fail(ApiError error) => (null, error);
}
