namespace Platform.Deploy.Tests.K8s;

/// <summary>The validator (k8s/tools/validate.mjs) finds each policy violation: a manifest broken on purpose fails.</summary>
public sealed class ValidatorTests
{
    private static string Rendered(params string[] extra) => DeployTools.HelmTemplate(extra);

    [SkippableTheory]
    [InlineData("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "root filesystem is not read-only")]
    [InlineData("runAsNonRoot: true", "runAsNonRoot: false", "not runAsNonRoot")]
    [InlineData("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true", "allowPrivilegeEscalation is not false")]
    [InlineData("platform-gateway:0.1.0", "platform-gateway:latest", "has no pinned tag")]
    [InlineData("startupProbe:", "startupProbeX:", "no startupProbe")]
    [InlineData("readinessProbe:", "readinessProbeX:", "no readinessProbe")]
    [InlineData("            - ALL", "            - NET_RAW", "capabilities not dropped")]
    [InlineData("memory: 1Gi", "memoryX: 1Gi", "no resources.limits.memory")]
    [InlineData("replicas: 2", "replicas: \"2\"", "schema")]
    public void Validate_BrokenManifest_ReportsTheViolation(string from, string to, string expected)
    {
        DeployTools.Require();
        var yaml = Rendered();
        Assert.Contains(from, yaml);
        var report = DeployTools.Validate(yaml.Replace(from, to));
        Assert.Contains(report.Errors, e => e.Contains(expected));
    }

    [SkippableFact]
    public void Validate_PdbOnOneReplica_Reported()
    {
        DeployTools.Require();
        // Two text replicas give a PDB; the same PDB with the Deployment cut to one replica blocks every drain.
        var yaml = Rendered("--set", "gateway.hpa.enabled=false");
        var report = DeployTools.Validate(yaml.Replace("  replicas: 2\n", "  replicas: 1\n"));
        Assert.Contains(report.Errors, e => e.Contains("a PDB there blocks every drain"));
    }

    [SkippableFact]
    public void Validate_KedaScaledDeploymentWithReplicas_Reported()
    {
        DeployTools.Require();
        var yaml = Rendered("-f", Path.Combine(DeployTools.Chart, "ci/keda-values.yaml"));
        var broken = yaml.Replace("  revisionHistoryLimit: 3\n  strategy:\n    type: RollingUpdate\n    # Surge first", "  replicas: 3\n  revisionHistoryLimit: 3\n  strategy:\n    type: RollingUpdate\n    # Surge first");
        Assert.NotEqual(yaml, broken);
        Assert.Contains(DeployTools.Validate(broken).Errors, e => e.Contains("scaled by KEDA but sets spec.replicas"));
    }

    [SkippableFact]
    public void Validate_DuplicateDaprAppId_Reported()
    {
        DeployTools.Require();
        var yaml = Rendered("-f", Path.Combine(DeployTools.Chart, "ci/dapr-values.yaml"));
        var broken = yaml.Replace("dapr.io/app-id: \"rel-image-gen\"", "dapr.io/app-id: \"rel-gateway\"");
        Assert.NotEqual(yaml, broken);
        Assert.Contains(DeployTools.Validate(broken).Errors, e => e.Contains("Dapr app-id 'rel-gateway' also used by"));
    }

    [SkippableFact]
    public void Validate_WorkerOpenToOutside_Reported()
    {
        DeployTools.Require();
        // Point the gateway's open rule at every pod of the release.
        var yaml = Rendered();
        var broken = yaml.Replace("  name: rel-platform-gateway\n  labels:\n    helm.sh/chart: platform-0.1.0\n    app.kubernetes.io/part-of: platform\n    app.kubernetes.io/managed-by: Helm\n    app.kubernetes.io/version: \"0.1.0\"\n    app.kubernetes.io/instance: rel\nspec:\n  podSelector:\n    matchLabels:\n      app.kubernetes.io/name: gateway\n",
            "  name: rel-platform-gateway\n  labels:\n    helm.sh/chart: platform-0.1.0\nspec:\n  podSelector:\n    matchLabels:\n");
        Assert.NotEqual(yaml, broken);
        Assert.Contains(DeployTools.Validate(broken).Errors, e => e.Contains("lets traffic from outside reach"));
    }
}
