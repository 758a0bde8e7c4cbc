namespace OrleansDiffusion.Diffusion.Imaging;

/// <summary>One lookup in a periodic Voronoi diagram, in cell units: distances to the nearest and second
/// nearest feature points, the nearest cell's identity hash, and the offset from that feature point.</summary>
internal readonly record struct VoronoiSample(float F1, float F2, uint Id, float Dx, float Dy)
{
    /// <summary>Approximate distance to the cell border: small along membranes, mortar lines and cracks.</summary>
    public float Edge => F2 - F1;
}
