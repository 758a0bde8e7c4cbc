using System.Runtime.CompilerServices;

namespace OrleansDiffusion.Diffusion.Denoisers;

/// <summary>
/// Every exemplar patch of one geometry, indexed for nearest-neighbour search: the separable principal-component
/// features of the pooled exemplar's patches (<see cref="PatchFeatures"/>), a k-means tree over them
/// (<see cref="PatchIndex"/>), for each patch the sharp exemplar pixels it votes for at each vote tap, and where it
/// lies (so that propagation can step from a patch to its exemplar neighbour).
/// Plain managed arrays, immutable once built: windows on any thread share one bank.
/// </summary>
internal sealed class PatchBank
{
    private readonly float[] _keys;      // [N · 8]
    private readonly float[] _biases;    // [N]: −‖key‖² / 2
    private readonly int[] _centreY;     // [N]
    private readonly int[] _centreX;     // [N]
    private readonly int[] _atCentre;    // [height · width]: the patch centred there, or −1
    private readonly int _width;
    private readonly int _low;           // centres lie in [_low, _highY) × [_low, _highX)
    private readonly int _highY;
    private readonly int _highX;
    private readonly bool _wraps;

    private PatchBank(PatchFeatures features, PatchIndex index, float[][] votes, float[] keys, (int Y, int X)[] positions,
        int height, int width, int margin, bool wraps)
    {
        Features = features;
        Index = index;
        Votes = votes;
        _keys = keys;
        _biases = new float[positions.Length];
        _centreY = new int[positions.Length];
        _centreX = new int[positions.Length];
        _atCentre = new int[height * width];
        Array.Fill(_atCentre, -1);
        for (var n = 0; n < positions.Length; n++)
        {
            var norm = 0.0;
            for (var j = 0; j < PatchFeatures.Lanes; j++) norm += (double)keys[n * PatchFeatures.Lanes + j] * keys[n * PatchFeatures.Lanes + j];
            _biases[n] = (float)(-0.5 * norm);
            (_centreY[n], _centreX[n]) = positions[n];
            _atCentre[positions[n].Y * width + positions[n].X] = n;
        }
        (_width, _low, _highY, _highX, _wraps) = (width, margin, height - margin, width - margin, wraps);
    }

    public PatchFeatures Features { get; }

    public PatchIndex Index { get; }

    /// <summary>Per vote tap v: [N · C], the exemplar pixel patch n puts at that tap.</summary>
    public float[][] Votes { get; }

    public PatchGeometry Geometry => Features.Geometry;

    /// <summary>The patch whose centre lies (dy, dx) from patch <paramref name="n"/>'s (around a wrapped exemplar), or −1.</summary>
    /// <remarks>A shift is at most the exemplar's size, so a wrap is one addition or subtraction of the period.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Shifted(int n, int dy, int dx)
    {
        var (y, x) = (_centreY[n] + dy, _centreX[n] + dx);
        if (y < _low || y >= _highY || x < _low || x >= _highX)
        {
            if (!_wraps) return -1;
            var (h, w) = (_highY - _low, _highX - _low);
            if (y < _low) y += h; else if (y >= _highY) y -= h;
            if (x < _low) x += w; else if (x >= _highX) x -= w;
        }
        return _atCentre[y * _width + x];
    }

    /// <summary>‖q‖² in a fixed order.</summary>
    public static float Norm(ReadOnlySpan<float> q) =>
        ((q[0] * q[0] + q[1] * q[1]) + (q[2] * q[2] + q[3] * q[3])) + ((q[4] * q[4] + q[5] * q[5]) + (q[6] * q[6] + q[7] * q[7]));

    /// <summary>q·key − ‖key‖²/2 of patch <paramref name="n"/> (larger is nearer), in a fixed order.</summary>
    public float Score(ReadOnlySpan<float> query, int n)
    {
        var key = _keys.AsSpan(n * PatchFeatures.Lanes, PatchFeatures.Lanes);
        var s01 = query[0] * key[0] + query[1] * key[1];
        var s23 = query[2] * key[2] + query[3] * key[3];
        var s45 = query[4] * key[4] + query[5] * key[5];
        var s67 = query[6] * key[6] + query[7] * key[7];
        return (s01 + s23) + (s45 + (s67 + _biases[n]));
    }

    /// <param name="exemplar">[C, height, width] planar float32.</param>
    /// <param name="margin">patch centres keep this far from the border: at least the geometry's radius (a wrapped
    /// exemplar passes its padding, so that its centres cover the original image once).</param>
    /// <param name="wrap">the padding of a wrapped exemplar (its centres then repeat with the original image's period); null for another image.</param>
    public static PatchBank Build(float[] exemplar, int channels, int height, int width, int margin, int? wrap, PatchGeometry geometry, ExemplarDenoiserOptions options)
    {
        var features = PatchFeatures.Fit(exemplar, channels, height, width, geometry);
        var all = features.Compute(exemplar, 0, height, width, 1f, parallel: false);
        var (radius, featureRadius, s) = (geometry.PatchRadius, geometry.FeatureRadius, geometry.Dilation);
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

        if (wrap is { } pad && pad != margin) throw new ArgumentOutOfRangeException(nameof(wrap), "a wrapped exemplar's centres must start at its padding");
        return new PatchBank(features, PatchIndex.Build(keys, options.Clusters, options.BankSeed), votes, keys, positions, height, width, margin, wrap is not null);
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
