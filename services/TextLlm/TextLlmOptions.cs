namespace TextLlm;

/// <summary>Settings of the text worker, section "TextLlm".</summary>
public sealed class TextLlmOptions : GenerationWorkerOptions
{
    public const string Section = "TextLlm";

    protected override string InstancePrefix => "textllm";
}
