namespace Platform.Contracts.Images;

/// <summary>
/// The drawing verbs of the demo world's instructions ("draw a large red circle ..."), shared by the world generator
/// that trains the demo models (Platform.Multimodal) and the gateway's images API, which phrases prompts the same way
/// without referencing the model code.
/// </summary>
public static class DemoWorldPhrasing
{
    public static readonly string[] DrawVerbs = ["draw", "paint", "make a picture of", "generate an image of"];
}
