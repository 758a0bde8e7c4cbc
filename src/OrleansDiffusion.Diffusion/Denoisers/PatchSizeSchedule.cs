namespace OrleansDiffusion.Diffusion.Denoisers;

/// <summary>
/// The patch geometry at one noise level. The window is box-blurred to width ≈ <see cref="Dilation"/> (an average
/// pool by that factor, kept at stride 1 so the machine stays translation equivariant), and patches of
/// <see cref="Size"/>² taps <see cref="Dilation"/> pixels apart are matched against the equally pooled exemplar:
/// one patch then covers structures <see cref="Dilation"/> times larger. Every pixel is the average of the
/// <see cref="Votes"/>² nearest patches that cover it (taps <see cref="Dilation"/> apart), as in texture optimisation.
/// Before voting, <see cref="Propagation"/> rounds of PatchMatch-style propagation let each pixel take its neighbours'
/// matches a tap away (shifted by the step to them) where those fit it nearly as well, so coherent copies of long
/// structures survive, and a last round <see cref="FineStep"/> pixels apart does the same between taps: the rounds a
/// tap apart only link pixels a whole number of taps apart, so without it a canvas at ×8 would be 64 interleaved
/// copies that never agree with their neighbours one pixel away. Before propagation, each canvas block of
/// 2·<see cref="Spread"/> pixels square takes its centre's match, shifted (see <c>ExemplarDenoiser</c>), so that a
/// block starts as one coherent copy instead of as many as it has pixels.
/// </summary>
/// <param name="FineStep">the step of the last propagation round, in pixels (0: none).</param>
/// <param name="Spread">half the side of the blocks that copy their centre's match, in pixels (0: none).</param>
public readonly record struct PatchGeometry(int Size, int Dilation, int Votes = 3, int Propagation = 1, int FineStep = 0, int Spread = 0)
{
    public int BlurRadius => Dilation / 2;

    /// <summary>Context needed to compute one patch feature.</summary>
    public int FeatureRadius => Size / 2 * Dilation + BlurRadius;

    /// <summary>Context of one pixel's vote from its own patches (what an exemplar position needs to be a patch).</summary>
    public int PatchRadius => FeatureRadius + Votes / 2 * Dilation;

    /// <summary>Receptive radius: the halo a window needs to be computed exactly (features, spread, propagation,
    /// votes). The spread and each propagation round look that much further.</summary>
    public int Radius => PatchRadius + Spread + PropagationSteps.Sum();

    /// <summary>The step of each propagation round in order, in pixels: <see cref="Propagation"/> taps, then <see cref="FineStep"/>.</summary>
    public IEnumerable<int> PropagationSteps => Enumerable.Repeat(Dilation, Propagation).Concat(FineStep > 0 ? [FineStep] : []);
}

/// <summary>
/// One rung of the schedule: <see cref="Geometry"/> is used while ᾱ ≤ <see cref="MaxAlphaBar"/>, on exemplars whose
/// smaller side is at least <see cref="MinExemplarSide"/>; on smaller ones the next finer rung takes its noise range
/// (a patch wider than half the exemplar has too few distinct neighbourhoods to recombine: it could only copy).
/// </summary>
public readonly record struct PatchLevel(double MaxAlphaBar, PatchGeometry Geometry, int MinExemplarSide = 0);

/// <summary>
/// Patch geometry by noise level, coarse to fine: pooled ×8, then ×4 patches while noise hides detail (the range where an
/// image commits to its large structure: brick courses, grain, veins), ×2, then full-resolution patches shrinking to
/// 3×3 as noise vanishes. The pooled levels end their propagation with a round a quarter tap apart (2 and 1 pixels):
/// on the 256² brick wall of <c>odiff bench texture</c> that takes completeness from .122 to .078 (from .098–.167 to
/// .068–.086 over seeds 2 to 4). Keyed by ᾱ rather than step index, so every scheduler and step count sees the same
/// geometry per noise level.
/// </summary>
public sealed record PatchSizeSchedule
{
    public static IReadOnlyList<PatchLevel> DefaultLevels { get; } =
    [
        new(0.2, new(7, 8, FineStep: 2, Spread: 4), MinExemplarSide: 128),
        new(0.45, new(7, 4, FineStep: 1, Spread: 2)),
        new(0.85, new(7, 2)),
        new(0.96, new(5, 1)),
        new(1.00, new(3, 1)),
    ];

    public PatchSizeSchedule(IReadOnlyList<PatchLevel>? levels = null)
    {
        Levels = levels ?? DefaultLevels;
        if (Levels.Count == 0 || Levels[^1].MaxAlphaBar < 1)
            throw new ArgumentException("levels must end with one that covers ᾱ = 1", nameof(levels));
        if (Levels.Any(l => l.Geometry.Size % 2 == 0 || l.Geometry.Votes % 2 == 0 || l.Geometry.Dilation < 1))
            throw new ArgumentException("patch sizes and vote counts must be odd, dilations at least 1", nameof(levels));
        if (Levels.Any(l => l.Geometry.Propagation < 0 || l.Geometry.FineStep < 0 || l.Geometry.Spread < 0))
            throw new ArgumentException("propagation rounds, steps and spreads must not be negative", nameof(levels));
        // Canvas sides are multiples of 8: blocks that divide 8 line up across a tileable canvas's wrap.
        if (Levels.Any(l => l.Geometry.Spread > 0 && 8 % (2 * l.Geometry.Spread) != 0))
            throw new ArgumentException("spreads must be 1, 2 or 4 (blocks of 2, 4 or 8 pixels)", nameof(levels));
    }

    /// <summary>From high noise (first) to low noise (last).</summary>
    public IReadOnlyList<PatchLevel> Levels { get; }

    public PatchGeometry At(double alphaBar) => Levels.First(l => alphaBar <= l.MaxAlphaBar).Geometry;

    /// <summary>The geometry at a noise level for an exemplar whose smaller side is <paramref name="exemplarSide"/>.</summary>
    public PatchGeometry At(double alphaBar, int exemplarSide) =>
        Levels.First(l => alphaBar <= l.MaxAlphaBar && exemplarSide >= l.MinExemplarSide || l.MaxAlphaBar >= 1).Geometry;

    /// <summary>The rungs an exemplar of this smaller side uses.</summary>
    public IEnumerable<PatchLevel> For(int exemplarSide) => Levels.Where(l => exemplarSide >= l.MinExemplarSide || l.MaxAlphaBar >= 1);

    /// <summary>The widest halo of any rung (what a job plans with, before its exemplar is known).</summary>
    public int LargestRadius => Levels.Max(l => l.Geometry.Radius);
}
