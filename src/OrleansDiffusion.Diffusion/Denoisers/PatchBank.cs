namespace OrleansDiffusion.Diffusion.Denoisers;

/// <summary>
/// Every exemplar patch of one geometry, indexed for nearest-neighbour search: the separable principal-component
/// features of the pooled exemplar's patches (<see cref="PatchFeatures"/>), a k-means tree over them
/// (<see cref="PatchIndex"/>), and for each patch the sharp exemplar pixels it votes for at each vote tap.
/// Plain managed arrays, immutable once built: windows on any thread share one bank.
/// </summary>
internal sealed class PatchBank
{
    private PatchBank(PatchFeatures features, PatchIndex index, float[][] votes)
    {
        Features = features;
        Index = index;
        Votes = votes;
    }

    public PatchFeatures Features { get; }

    public PatchIndex Index { get; }

    /// <summary>Per vote tap v: [N · C], the exemplar pixel patch n puts at that tap.</summary>
    public float[][] Votes { get; }

    public PatchGeometry Geometry => Features.Geometry;

    /// <param name="exemplar">[C, height, width] planar float32.</param>
    /// <param name="margin">patch centres keep this far from the border: at least the geometry's radius (a wrapped
    /// exemplar passes its padding, so that its centres cover the original image once).</param>
    public static PatchBank Build(float[] exemplar, int channels, int height, int width, int margin, PatchGeometry geometry, ExemplarDenoiserOptions options)
    {
        var features = PatchFeatures.Fit(exemplar, channels, height, width, geometry);
        var all = features.Compute(exemplar, 0, height, width, 1f);
        var (radius, featureRadius, s) = (geometry.Radius, geometry.FeatureRadius, geometry.Dilation);
        var featureWidth = width - 2 * featureRadius;
        if (margin < radius) throw new ArgumentOutOfRangeException(nameof(margin), $"must be at least the patch radius {radius}");
        var positions = Positions(height, width, margin, options.PatchCount, options.BankSeed);
        var count = positions.Length;

        var keys = new float[count * PatchFeatures.Lanes];
        for (var n = 0; n < count; n++)
        {
            var (y, x) = positions[n];
            all.AsSpan(((y - featureRadius) * featureWidth + x - featureRadius) * PatchFeatures.Lanes, PatchFeatures.Lanes)
                .CopyTo(keys.AsSpan(n * PatchFeatures.Lanes));
        }

        var half = geometry.Votes / 2;
        var votes = new float[geometry.Votes * geometry.Votes][];
        for (var t = 0; t < votes.Length; t++)
        {
            var (du, dv) = (t / geometry.Votes - half, t % geometry.Votes - half);
            var tap = votes[t] = new float[count * channels];
            for (var n = 0; n < count; n++)
            {
                var (y, x) = positions[n];
                for (var c = 0; c < channels; c++)
                    tap[n * channels + c] = exemplar[(c * height + y - du * s) * width + x - dv * s];
            }
        }

        return new PatchBank(features, PatchIndex.Build(keys, options.Clusters, options.BankSeed), votes);
    }

    /// <summary>Patch centres at least <paramref name="margin"/> from the border: all of them, or a fixed random subset.</summary>
    private static (int Y, int X)[] Positions(int height, int width, int margin, int? limit, int seed)
    {
        var all = new List<(int, int)>();
        for (var y = margin; y < height - margin; y++)
            for (var x = margin; x < width - margin; x++)
                all.Add((y, x));
        if (limit is not { } count || count >= all.Count) return [.. all];
        var random = new Random(seed);
        return [.. all.OrderBy(_ => random.Next()).Take(count)];
    }
}
