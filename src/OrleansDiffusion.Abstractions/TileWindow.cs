namespace OrleansDiffusion.Abstractions;

/// <summary>The rectangle of the canvas one tile owns. <see cref="X"/>/<see cref="Y"/> may run past the
/// right/bottom edge on a wrapping (tileable) canvas; coordinates are then taken modulo the canvas size.</summary>
[GenerateSerializer, Immutable, Alias("odiff.TileWindow")]
public readonly record struct TileWindow(
    [property: Id(0)] int Index,
    [property: Id(1)] int Row,
    [property: Id(2)] int Column,
    [property: Id(3)] int X,
    [property: Id(4)] int Y,
    [property: Id(5)] int Width,
    [property: Id(6)] int Height)
{
    public double CenterX => X + (Width - 1) / 2.0;
    public double CenterY => Y + (Height - 1) / 2.0;
}
