using System.Reflection;
using Platform.Contracts.Chat;

namespace Platform.Deploy.Tests.Charts;

/// <summary>charts/platform: lint, render for each value set, schema and policy validation, queue names.</summary>
public sealed class PlatformChartTests
{
    /// <summary>The value sets CI renders: defaults (CPU) and each file of charts/platform/ci.</summary>
    public static TheoryData<string> ValueSets() => new() { "", "ci/gpu-values.yaml", "ci/keda-values.yaml", "ci/dapr-values.yaml", "ci/external-values.yaml", "ci/all-services-values.yaml" };

    private static string[] Values(string set) => set == "" ? [] : ["-f", Path.Combine(DeployTools.Chart, set)];

    [SkippableTheory]
    [MemberData(nameof(ValueSets))]
    public void HelmLint_Strict_Passes(string set)
    {
        DeployTools.Require();
        var (code, stdout, stderr) = DeployTools.Run(DeployTools.Helm, ["lint", "--strict", DeployTools.Chart, .. Values(set)]);
        Assert.True(code == 0, $"helm lint --strict {set}: {stdout}{stderr}");
    }

    [SkippableTheory]
    [MemberData(nameof(ValueSets))]
    public void HelmTemplate_ValueSet_EveryObjectMatchesItsSchemaAndThePolicies(string set)
    {
        DeployTools.Require();
        var report = DeployTools.Validate(DeployTools.HelmTemplate(Values(set)));
        Assert.True(report.Errors.Count == 0, string.Join("\n", report.Errors));
        Assert.True(report.Kinds.GetValueOrDefault("Deployment") >= 3, "gateway, a text pool and ImageGen are rendered");
    }

    [SkippableFact]
    public void HelmTemplate_Keda_ScalesEveryWorkerOnItsQueuesWithoutReplicas()
    {
        DeployTools.Require();
        var yaml = DeployTools.HelmTemplate("-f", Path.Combine(DeployTools.Chart, "ci/keda-values.yaml"));
        var report = DeployTools.Validate(yaml);
        Assert.Empty(report.Errors);
        // Three text pools and ImageGen, each scaled on its models' queues, with one TriggerAuthentication.
        Assert.Equal(4, report.Kinds["ScaledObject"]);
        Assert.Equal(1, report.Kinds["TriggerAuthentication"]);
        Assert.Equal(1, report.Kinds["ServiceMonitor"]);
        Assert.Contains(report.Queues, q => q.QueueNames.SequenceEqual(["chat-tiny-chat"]));
        // The validator fails a KEDA-scaled Deployment with replicas; check the rendering itself too.
        Assert.DoesNotContain("  replicas: 2\n", yaml.Split("kind: StatefulSet")[0].Split("name: rel-platform-text-llm-multimodal")[1].Split("---")[0]);
    }

    [SkippableFact]
    public void HelmTemplate_Dapr_AnnotatesEveryServiceWithUniqueAppIdsAndShipsComponents()
    {
        DeployTools.Require();
        var report = DeployTools.Validate(DeployTools.HelmTemplate("-f", Path.Combine(DeployTools.Chart, "ci/dapr-values.yaml")));
        Assert.Empty(report.Errors);
        Assert.Equal(["rel-gateway", "rel-image-gen", "rel-text-llm-default"], report.DaprAppIds.Order());
        Assert.Equal(3, report.Kinds["Component"]);
        Assert.Equal(1, report.Kinds["Configuration"]);
        Assert.Equal(1, report.Kinds["Resiliency"]);
    }

    [SkippableFact]
    public void HelmTemplate_Gpu_RequestsTheGpuResourceAndTheCudaDecoder()
    {
        DeployTools.Require();
        var yaml = DeployTools.HelmTemplate("-f", Path.Combine(DeployTools.Chart, "ci/gpu-values.yaml"));
        Assert.Empty(DeployTools.Validate(yaml).Errors);
        Assert.Contains("nvidia.com/gpu: \"1\"", yaml);
        Assert.Contains("runtimeClassName: nvidia", yaml);
        Assert.Contains("- { name: ImageGen__DecoderDevice, value: \"cuda:0\" }", yaml);
    }

    [SkippableFact]
    public void HelmTemplate_ExternalBrokerAndDatabase_RendersNoStatefulSetOrSecret()
    {
        DeployTools.Require();
        var report = DeployTools.Validate(DeployTools.HelmTemplate("-f", Path.Combine(DeployTools.Chart, "ci/external-values.yaml")));
        Assert.Empty(report.Errors);
        Assert.False(report.Kinds.ContainsKey("StatefulSet"));
        Assert.False(report.Kinds.ContainsKey("Secret"));
    }

    /// <summary>Every KEDA trigger's queue is what the code's queue naming (Platform.Contracts) gives for the model.</summary>
    [SkippableTheory]
    [InlineData("ci/keda-values.yaml")]
    [InlineData("ci/all-services-values.yaml")]
    public void ScaledObjects_QueueNames_AreThoseOfPlatformContracts(string set)
    {
        DeployTools.Require();
        var report = DeployTools.Validate(DeployTools.HelmTemplate("-f", Path.Combine(DeployTools.Chart, set)));
        Assert.NotEmpty(report.Queues);
        var contracts = typeof(ChatQueues).Assembly;
        var missing = report.Queues.Where(q => q.QueueClass is null || contracts.GetType(q.QueueClass) is null).Select(q => q.QueueClass).Distinct().ToList();
        Assert.Empty(missing);
        foreach (var q in report.Queues)
        {
            var forModel = contracts.GetType(q.QueueClass!)!.GetMethod("ForModel", BindingFlags.Public | BindingFlags.Static, [typeof(string)])
                           ?? throw new MissingMethodException(q.QueueClass, "ForModel(string)");
            var expected = q.Models.Select(m => (string)forModel.Invoke(null, [m])!).ToList();
            Assert.Equal(expected, q.QueueNames);
        }
    }

    [SkippableTheory]
    [InlineData("image.tag=latest")]
    [InlineData("gateway.replicaz=3")]
    [InlineData("rabbitmq.bundled=false")]
    public void HelmTemplate_ValuesAgainstSchema_Rejected(string set)
    {
        DeployTools.Require();
        var (code, _, stderr) = DeployTools.Run(DeployTools.Helm, ["template", "rel", DeployTools.Chart, "--set", set]);
        Assert.NotEqual(0, code);
        Assert.Contains("values don't meet the specifications of the schema", stderr);
    }
}
