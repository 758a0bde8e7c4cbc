namespace OrleansDiffusion.Diffusion.StableDiffusion;

/// <summary>
/// Partial GroupNorm statistics of one tile's core region at one norm: per group the sum and sum of squares of
/// the values, and how many values each group sums (float64). Partial statistics of all tiles add up
/// (<see cref="Sum"/>) to the statistics of the whole canvas; this is all a coordinator exchanges with the tiles.
/// </summary>
public sealed record GroupStatistics(int Norm, double[] Sums, double[] SquareSums, long Count)
{
    public int Groups => Sums.Length;

    /// <summary>The pooled statistics of all tiles at the same norm.</summary>
    public static GroupStatistics Sum(IEnumerable<GroupStatistics> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        GroupStatistics? total = null;
        foreach (var part in parts)
        {
            if (total is null)
            {
                total = part with { Sums = (double[])part.Sums.Clone(), SquareSums = (double[])part.SquareSums.Clone() };
                continue;
            }
            if (part.Norm != total.Norm || part.Groups != total.Groups)
                throw new ArgumentException($"statistics of norm {part.Norm} ({part.Groups} groups) cannot pool with norm {total.Norm} ({total.Groups} groups)", nameof(parts));
            for (var g = 0; g < total.Groups; g++)
            {
                total.Sums[g] += part.Sums[g];
                total.SquareSums[g] += part.SquareSums[g];
            }
            total = total with { Count = total.Count + part.Count };
        }
        return total ?? throw new ArgumentException("no statistics to pool", nameof(parts));
    }

    /// <summary>Per group mean and 1/√(var + ε) (biased variance, as GroupNorm).</summary>
    public (double[] Mean, double[] InverseStd) Normalization(double eps)
    {
        if (Count <= 0) throw new InvalidOperationException($"norm {Norm}: no values were counted");
        var mean = Sums.Select(s => s / Count).ToArray();
        var inverse = SquareSums.Select((q, g) => 1 / Math.Sqrt(Math.Max(q / Count - mean[g] * mean[g], 0) + eps)).ToArray();
        return (mean, inverse);
    }
}
