using System.Text.Json.Serialization;
using Platform.Contracts.Serialization;

namespace Platform.Contracts.Images;

/// <summary>An input image as visual tokens in the language model's embedding space, row-major [Tokens, Hidden]
/// (the engine splices them at the "&lt;image&gt;" placeholders of the turn). The data travels as base64 float32.</summary>
public sealed record VisualTokens(int Tokens, int Hidden, [property: JsonConverter(typeof(Float32ArrayBase64Converter))] float[] Data);
