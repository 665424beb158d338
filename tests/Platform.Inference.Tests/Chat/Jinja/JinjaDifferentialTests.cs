using System.Text.Json;
using System.Text.Json.Nodes;
using Platform.Inference.Chat.Jinja;
using Xunit;

namespace Platform.Inference.Tests.Chat.Jinja;

/// <summary>
/// The C# interpreter against @huggingface/jinja on the same inputs: published chat templates
/// (TestData/templates.json) over a set of conversations (TestData/conversations.json), and a corpus of small
/// templates, one per construct (TestData/constructs.json). Where the reference renders, the outputs must be equal
/// character for character; where it fails (raise_exception, an unsupported operation), ours must fail too.
/// </summary>
public class JinjaDifferentialTests
{
    private static readonly string[] BriefTemplates = ["smollm2", "qwen2.5", "llama3.1", "mistral", "mistral-v0.3", "gemma", "phi3", "qwen3"];

    private static JsonObject Load(string file) => JsonNode.Parse(File.ReadAllText(Path.Combine(JinjaReference.TestData, file)))!.AsObject();

    private static List<JinjaReference.Case> PublishedCases()
    {
        var templates = Load("templates.json");
        var conversations = Load("conversations.json");
        var cases = new List<JinjaReference.Case>();
        foreach (var (name, t) in templates)
        {
            string template = t!["chat_template"]!.GetValue<string>();
            foreach (var (convName, conv) in conversations)
            {
                foreach (bool generationPrompt in new[] { true, false })
                {
                    var context = conv!.DeepClone().AsObject();
                    context["add_generation_prompt"] = generationPrompt;
                    context["bos_token"] = t["bos_token"]?.DeepClone();
                    context["eos_token"] = t["eos_token"]?.DeepClone();
                    cases.Add(new($"{name}|{convName}|{generationPrompt}", template, context));
                }
            }
            if (t["example"] is JsonObject example) cases.Add(new($"{name}|example", template, example.DeepClone().AsObject()));
        }
        return cases;
    }

    private static (string? Output, string? Error) RenderOurs(JinjaReference.Case c)
    {
        try
        {
            var template = JinjaTemplate.Parse(c.Template);
            using var doc = JsonDocument.Parse(c.Context.ToJsonString());
            return (template.Render(doc.RootElement), null);
        }
        catch (JinjaSyntaxException e) { return (null, "parse: " + e.Message); }
        catch (JinjaRuntimeException e) { return (null, "render: " + e.Message); }
    }

    /// <summary>Compares every case; returns the number the reference rendered (not failed) and the mismatches.</summary>
    private static (int Rendered, List<string> Mismatches, Dictionary<string, JinjaReference.Result> Reference) Compare(List<JinjaReference.Case> cases)
    {
        var reference = JinjaReference.Render(cases);
        var mismatches = new List<string>();
        int rendered = 0;
        foreach (var c in cases)
        {
            var theirs = reference[c.Id];
            var (output, error) = RenderOurs(c);
            if (theirs.Output is not null)
            {
                rendered++;
                if (output != theirs.Output)
                    mismatches.Add($"{c.Id}: reference rendered {Show(theirs.Output)}, ours {(error is not null ? "failed: " + error : "rendered " + Show(output!))}");
            }
            else if (error is null)
                mismatches.Add($"{c.Id}: reference failed ({theirs.Error}), ours rendered {Show(output!)}");
        }
        return (rendered, mismatches, reference.ToDictionary());
    }

    private static string Show(string s) => JsonSerializer.Serialize(s.Length > 400 ? s[..400] + "..." : s);

    [Fact]
    public void PublishedTemplates_Conversations_MatchReference()
    {
        var cases = PublishedCases();
        var (rendered, mismatches, reference) = Compare(cases);
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {cases.Count} cases differ:\n" + string.Join("\n", mismatches.Take(15)));
        // Each template the engine must serve renders most conversations (a template the reference rejects for
        // every input would compare nothing).
        foreach (var name in BriefTemplates)
        {
            int ok = reference.Count(r => r.Key.StartsWith(name + "|", StringComparison.Ordinal) && r.Value.Output is not null);
            Assert.True(ok >= 10, $"{name}: only {ok} cases rendered by the reference");
        }
        Assert.True(rendered > cases.Count / 2, $"only {rendered} of {cases.Count} cases rendered by the reference");
    }

    [Fact]
    public void PublishedTemplates_ToolConversations_RenderTheTools()
    {
        // The tool-calling templates put the tool's schema into the prompt: the comparison above is not vacuous for tools.
        var cases = PublishedCases().Where(c => c.Id is "qwen2.5|tools-plain|True" or "llama3.1|tools-plain|True" or "mistral-v0.3|tools-plain|True").ToList();
        Assert.Equal(3, cases.Count);
        foreach (var c in cases)
        {
            var (output, error) = RenderOurs(c);
            Assert.True(error is null, $"{c.Id}: {error}");
            Assert.Contains("get_current_temperature", output);
            Assert.Contains("\"unit\"", output);
        }
    }

    [Fact]
    public void Constructs_MatchReference()
    {
        var cases = JsonNode.Parse(File.ReadAllText(Path.Combine(JinjaReference.TestData, "constructs.json")))!.AsArray()
            .Select(n => new JinjaReference.Case(n!["id"]!.GetValue<string>(), n["template"]!.GetValue<string>(), n["context"]!.AsObject()))
            .ToList();
        var (rendered, mismatches, _) = Compare(cases);
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {cases.Count} cases differ:\n" + string.Join("\n", mismatches));
        Assert.True(rendered >= cases.Count - 3, $"only {rendered} of {cases.Count} construct cases rendered by the reference");
    }
}
