namespace Platform.Contracts.Chat;

/// <summary>Markers that travel inside chat message text between the gateway and the workers.</summary>
public static class PromptMarkers
{
    /// <summary>Where an input image's visual tokens go in a message's text (one per image, in order).</summary>
    public const string Image = "<image>";
}
