using System.Text.Json;
using Json.Schema;

namespace Platform.Inference.Tests.Constraints;

/// <summary>JsonSchema.Net (an independent implementation of JSON Schema) as the oracle for constrained output.</summary>
public static class SchemaValidator
{
    public static bool IsValid(string schemaJson, string instanceJson)
    {
        var schema = JsonSchema.FromText(schemaJson, new BuildOptions { SchemaRegistry = new SchemaRegistry() },
            new Uri($"https://schemas.test/{Guid.NewGuid():N}"));
        using var doc = JsonDocument.Parse(instanceJson);
        return schema.Evaluate(doc.RootElement).IsValid;
    }
}
