namespace Platform.Contracts.Images;

/// <summary>A picture an image-token model drew inside its answer: the VQ codes it generated (<see cref="GridSize"/>
/// x <see cref="GridSize"/>, raster order) and the PNG the model folder's VQ decoder made of them.</summary>
public sealed record DecodedPicture(byte[] Png, int Width, int Height, int GridSize, IReadOnlyList<int> Codes);
