namespace Platform.Deploy.Tests.K8s;

/// <summary>k8s/: each overlay builds with kustomize and validates; the rendered base matches the chart.</summary>
public sealed class KustomizeTests
{
    [SkippableTheory]
    [InlineData("k8s/base")]
    [InlineData("k8s/overlays/dev")]
    [InlineData("k8s/overlays/production")]
    public void Kustomize_Overlay_EveryObjectMatchesItsSchemaAndThePolicies(string dir)
    {
        DeployTools.Require();
        var report = DeployTools.Validate(DeployTools.Kustomize(dir));
        Assert.True(report.Errors.Count == 0, string.Join("\n", report.Errors));
        Assert.True(report.Objects > 0);
    }

    [SkippableFact]
    public void Kustomize_Production_RunsTwoGatewaysJudgeMoeBrokerDatabaseAndDapr()
    {
        DeployTools.Require();
        var yaml = DeployTools.Kustomize("k8s/overlays/production");
        var report = DeployTools.Validate(yaml);
        Assert.Equal(2, report.Kinds["StatefulSet"]);
        Assert.Equal(2, report.Kinds["PodDisruptionBudget"]);
        Assert.Equal(1, report.Kinds["HorizontalPodAutoscaler"]);
        // gateway, the TextLlm pool, ImageGen, the judge and the MoE workers, each its own Dapr app-id.
        Assert.Equal(5, report.DaprAppIds.Count);
        Assert.Contains("platform-judge:0.1.0", yaml);
        Assert.Contains("platform-moe-adapter:0.1.0", yaml);
        Assert.Contains("MoeAdapter__Models__0: demo-moe", yaml);
        // The gateways need API keys: the admin key comes from the platform-admin Secret.
        Assert.Contains("name: Security__AdminKey", yaml);
        Assert.Contains("name: platform-admin", yaml);
        Assert.Contains("key: adminKey", yaml);
        Assert.Contains("minReplicas: 2", yaml);
        Assert.Contains("replicas: 3", yaml);
    }

    [SkippableFact]
    public void Kustomize_Dev_IsOneAllInOnePodWithSqliteOnAVolume()
    {
        DeployTools.Require();
        var yaml = DeployTools.Kustomize("k8s/overlays/dev");
        var report = DeployTools.Validate(yaml);
        Assert.Equal(1, report.Kinds["Deployment"]);
        Assert.Equal(1, report.Kinds["PersistentVolumeClaim"]);
        Assert.Contains("Batch__ConnectionString: Data Source=/data/batch.db", yaml);
        Assert.Contains("platform-all-in-one:0.1.0", yaml);
        // A pod listens on every interface: the dev pod is told to run open (no keys) explicitly.
        Assert.Contains("Security__AllowOpen: \"true\"", yaml);
    }

    [SkippableFact]
    public void Render_Check_BaseAndProductionMatchTheChart()
    {
        DeployTools.Require();
        var (code, stdout, stderr) = DeployTools.Run("node", [Path.Combine(DeployTools.Tools, "render.mjs"), "--check"]);
        Assert.True(code == 0, stdout + stderr);
    }
}
