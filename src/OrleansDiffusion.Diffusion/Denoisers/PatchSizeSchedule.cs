namespace OrleansDiffusion.Diffusion.Denoisers;

/// <summary>The patch geometry at one noise level: <see cref="Size"/> taps per side, <see cref="Dilation"/>
/// pixels apart, compared on a box-blurred image (blur width ≈ dilation) so wide patches see structure, not aliasing.</summary>
public readonly record struct PatchGeometry(int Size, int Dilation)
{
    public int BlurRadius => Dilation / 2;

    /// <summary>Receptive radius: the halo a window needs to be computed exactly.</summary>
    public int Radius => Size / 2 * Dilation + BlurRadius;
}

/// <summary>One rung of the schedule: <see cref="Geometry"/> is used while ᾱ ≤ <see cref="MaxAlphaBar"/>.</summary>
public readonly record struct PatchLevel(double MaxAlphaBar, PatchGeometry Geometry);

/// <summary>
/// Patch geometry by noise level: wide (dilated) patches while noise hides detail — the range where an
/// image commits to its large structure — shrinking to plain 3×3 as noise vanishes (Kamb &amp; Ganguli
/// calibrate a similar decreasing patch-size schedule). Dilation keeps wide patches as cheap as 7×7 ones.
/// Keyed by ᾱ rather than step index, so every scheduler and step count sees the same geometry per noise level.
/// </summary>
public sealed record PatchSizeSchedule
{
    public static IReadOnlyList<PatchLevel> DefaultLevels { get; } =
    [
        new(0.35, new(7, 6)),
        new(0.50, new(7, 4)),
        new(0.65, new(7, 3)),
        new(0.80, new(7, 2)),
        new(0.90, new(7, 1)),
        new(0.97, new(5, 1)),
        new(1.00, new(3, 1)),
    ];

    public PatchSizeSchedule(IReadOnlyList<PatchLevel>? levels = null)
    {
        Levels = levels ?? DefaultLevels;
        if (Levels.Count == 0 || Levels[^1].MaxAlphaBar < 1)
            throw new ArgumentException("levels must end with one that covers ᾱ = 1", nameof(levels));
    }

    /// <summary>From high noise (first) to low noise (last).</summary>
    public IReadOnlyList<PatchLevel> Levels { get; }

    public PatchGeometry At(double alphaBar) => Levels.First(l => alphaBar <= l.MaxAlphaBar).Geometry;

    public int LargestRadius => Levels.Max(l => l.Geometry.Radius);
}
