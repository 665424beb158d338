using System.Text.Json.Nodes;
using Platform.Inference.Engine;
using Platform.Inference.Loading;
using Xunit;

namespace Platform.Inference.Tests.Loading;

/// <summary>Which renderer a model folder gets: override, then the folder's own template, then the vocabulary's family.</summary>
public class ChatTemplateSelectionTests
{
    private static string FolderWithTemplate(string? template)
    {
        var dir = TestModels.CopyOf(TestModels.Llama);
        var path = Path.Combine(dir, ModelLoader.TokenizerConfigFile);
        var config = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        if (template is null) config.Remove("chat_template");
        else config["chat_template"] = template;
        File.WriteAllText(path, config.ToJsonString());
        return dir;
    }

    [Fact]
    public void Load_TemplateWithSyntaxError_FailsNamingFileAndLine()
    {
        var dir = FolderWithTemplate("{% for message in messages %}\n{{ message['content'] }\n{% endfor %}");
        var e = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(dir));
        Assert.Contains(ModelLoader.TokenizerConfigFile, e.Message);
        Assert.Contains("chat_template line 2", e.Message);
        Assert.Contains("Engine:ChatTemplate", e.Message);
    }

    [Fact]
    public void Load_TemplateFailingToRender_FailsAtLoad()
    {
        var dir = FolderWithTemplate("{% for m in messages %}{{ m.content | no_such_filter }}{% endfor %}");
        var e = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(dir));
        Assert.Contains("no_such_filter", e.Message);
    }

    [Fact]
    public void Load_BrokenTemplateWithOverride_UsesNamedBuiltIn()
    {
        var dir = FolderWithTemplate("{% if %}");
        using var m = ModelLoader.Load(dir, chatTemplate: "chatml");
        Assert.Equal("chatml", m.ChatTemplate.Name);
    }

    [Fact]
    public void Load_NoTemplate_UsesVocabularyFamily()
    {
        using var m = ModelLoader.Load(FolderWithTemplate(null));
        Assert.Equal("chatml", m.ChatTemplate.Name);
        Assert.Null(m.ChatTemplate.Jinja);
    }

    [Fact]
    public void Load_OwnTemplate_RendersIt()
    {
        // A layout no built-in renderer has (the silent ChatML fallback used to produce the wrong prompt here).
        var dir = FolderWithTemplate("{% for m in messages %}<|{{ m.role }}|>\n{{ m.content }}<|end|>\n{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}");
        using var m = ModelLoader.Load(dir);
        Assert.Equal("jinja", m.ChatTemplate.Name);
        Assert.Equal("<|user|>\nHi<|end|>\n<|assistant|>\n", m.ChatTemplate.Render([new ChatMessage("user", "Hi")]));
    }

    [Fact]
    public void Load_ChatTemplateJinjaFile_WinsOverTokenizerConfig()
    {
        var dir = FolderWithTemplate("{{ 'from tokenizer_config' }}");
        File.WriteAllText(Path.Combine(dir, ModelLoader.ChatTemplateFile), "{% for m in messages %}[{{ m.content }}]{% endfor %}\n");
        using var m = ModelLoader.Load(dir);
        Assert.Equal("[Hi]", m.ChatTemplate.Render([new ChatMessage("user", "Hi")]));
    }

    [Fact]
    public void Load_NamedTemplateList_UsesDefault()
    {
        var dir = TestModels.CopyOf(TestModels.Llama);
        var path = Path.Combine(dir, ModelLoader.TokenizerConfigFile);
        var config = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        config["chat_template"] = new JsonArray(
            new JsonObject { ["name"] = "tool_use", ["template"] = "tools!" },
            new JsonObject { ["name"] = "default", ["template"] = "{% for m in messages %}<{{ m.content }}>{% endfor %}" });
        File.WriteAllText(path, config.ToJsonString());
        using var m = ModelLoader.Load(dir);
        Assert.Equal("<Hi>", m.ChatTemplate.Render([new ChatMessage("user", "Hi")]));
    }
}
