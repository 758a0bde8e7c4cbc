namespace OrleansDiffusion.Abstractions;

/// <summary>The rectangle of the canvas one tile owns. <see cref="X"/>/<see cref="Y"/> may run past the
/// right/bottom edge on a wrapping (tileable) canvas; coordinates are then taken modulo the canvas size.</summary>
public readonly record struct TileWindow(int Index, int Row, int Column, int X, int Y, int Width, int Height)
{
    public double CenterX => X + (Width - 1) / 2.0;
    public double CenterY => Y + (Height - 1) / 2.0;
}
