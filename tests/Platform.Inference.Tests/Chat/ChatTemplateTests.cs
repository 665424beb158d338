using Platform.Inference.Chat;
using Platform.Inference.Engine;
using Xunit;

namespace Platform.Inference.Tests.Chat;

public class ChatTemplateTests
{
    private static readonly ChatMessage[] Conversation = [new("system", "Be brief."), new("user", "Hi there"), new("assistant", "Hello!"), new("user", "Bye")];

    [Theory]
    [InlineData("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}", "chatml")]
    [InlineData("{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n{{ m['content'] }}<|eot_id|>{% endfor %}", "llama3")]
    [InlineData("{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}[INST] {{ m['content'] }} [/INST]{% endif %}{% endfor %}", "mistral")]
    [InlineData("{# demo chat template (ChatML layout) #}<|im_start|>", "demo")]
    [InlineData("{{ messages }}", null)]
    public void DetectFamily_Markers_ChooseFamily(string template, string? expected)
    {
        Assert.Equal(expected, ChatTemplate.DetectFamily(template));
    }

    [Fact]
    public void Render_ChatML_MatchesPublishedLayout()
    {
        var text = ChatTemplate.ForName("chatml").Render(Conversation);
        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n", text);
    }

    [Fact]
    public void Render_Llama3_MatchesPublishedLayout()
    {
        var text = ChatTemplate.ForName("llama3").Render(Conversation[1..2]);
        Assert.Equal("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", text);
    }

    [Fact]
    public void Render_Mistral_FoldsSystemIntoFirstUserTurn()
    {
        var text = ChatTemplate.ForName("mistral", "<s>", "</s>").Render(Conversation);
        Assert.Equal("<s>[INST] Be brief.\n\nHi there [/INST]Hello!</s>[INST] Bye [/INST]", text);
    }

    [Fact]
    public void ForName_Unknown_Throws()
    {
        var e = Assert.Throws<ArgumentException>(() => ChatTemplate.ForName("vicuna"));
        Assert.Contains("vicuna", e.Message);
    }
}
