using System.Text.Json.Serialization;
using Platform.Contracts.Serialization;

namespace Platform.Contracts.Images;

/// <summary>A GILL image slot the language model produced ([IMG0]..[IMG(r-1)]): its last-layer hidden states and input
/// embeddings, row-major [Tokens, Hidden]; ImageGen maps them to a picture. Both arrays travel as base64 float32.</summary>
public sealed record ImageSlotStates(
    int Tokens,
    int Hidden,
    [property: JsonConverter(typeof(Float32ArrayBase64Converter))] float[] HiddenStates,
    [property: JsonConverter(typeof(Float32ArrayBase64Converter))] float[] InputEmbeddings);
