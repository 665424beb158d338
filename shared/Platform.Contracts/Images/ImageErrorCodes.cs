namespace Platform.Contracts.Images;

/// <summary>Error codes of the image service.</summary>
public static class ImageErrorCodes
{
    /// <summary>The input bytes are not a usable image (corrupt, unsupported format, over the byte or pixel limit).</summary>
    public const string InvalidImage = "invalid_image";

    /// <summary>The image slot does not have the model's shape.</summary>
    public const string InvalidSlot = "invalid_image_slot";

    /// <summary>This ImageGen instance does not serve the model.</summary>
    public const string ModelNotFound = "model_not_found";
}
