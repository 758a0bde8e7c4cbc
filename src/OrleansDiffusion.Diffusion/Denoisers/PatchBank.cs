using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
    private readonly Dictionary<int, int[]> _neighbours = [];
    private readonly float[] _keyMean = new float[PatchFeatures.Lanes];       // per lane, over the bank
    private readonly float[] _keyDeviation = new float[PatchFeatures.Lanes];

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
        for (var j = 0; j < PatchFeatures.Lanes; j++)
        {
            double sum = 0, squares = 0;
            for (var n = 0; n < positions.Length; n++)
            {
                var value = keys[n * PatchFeatures.Lanes + j];
                (sum, squares) = (sum + value, squares + (double)value * value);
            }
            var mean = sum / positions.Length;
            (_keyMean[j], _keyDeviation[j]) = ((float)mean, (float)Math.Sqrt(Math.Max(0, squares / positions.Length - mean * mean)));
        }
        foreach (var step in features.Geometry.PropagationSteps.Distinct())
        {
            var table = new int[4 * positions.Length];
            for (var n = 0; n < positions.Length; n++)
                (table[4 * n], table[4 * n + 1], table[4 * n + 2], table[4 * n + 3]) = (Shifted(n, 0, step), Shifted(n, 0, -step), Shifted(n, step, 0), Shifted(n, -step, 0));
            _neighbours[step] = table;
        }
    }

    public PatchFeatures Features { get; }

    /// <summary>
    /// Brings query features, in place, lane by lane within the keys' spread. A query is a patch plus noise of deviation
    /// <paramref name="noise"/> per lane (pure noise around zero at the first step, when there is no
    /// <paramref name="signal"/> yet). Where the noise exceeds a lane's spread s, the query lies far outside the bank, and
    /// its nearest patch is one of the bank's extremes in the noise's direction whatever the patch: a few patches are the
    /// nearest to most queries (marble's one dark knot, repeated in rows). Those lanes are scaled by s / noise about the
    /// keys' mean, so that they spread like the keys and every patch is about as likely as its share of the bank; lanes
    /// that stand out of the noise are left as they are (shrinking them too fades thin veins toward the mean).
    /// </summary>
    public void Condition(float[] features, float noise, bool signal)
    {
        var (gain, centre) = (new float[PatchFeatures.Lanes], new float[PatchFeatures.Lanes]);
        for (var j = 0; j < gain.Length; j++) (gain[j], centre[j]) = (noise > 0 ? Math.Min(1, _keyDeviation[j] / noise) : 1, signal ? _keyMean[j] : 0);
        for (var i = 0; i < features.Length; i++)
        {
            var j = i % PatchFeatures.Lanes;
            features[i] = _keyMean[j] + (features[i] - centre[j]) * gain[j];
        }
    }

    public PatchIndex Index { get; }

    /// <summary>Per vote tap v: [N · C], the exemplar pixel patch n puts at that tap.</summary>
    public float[][] Votes { get; }

    public PatchGeometry Geometry => Features.Geometry;

    /// <summary>
    /// For every patch n, the patches whose centres lie <paramref name="step"/> pixels from its own (see <see cref="Shifted"/>):
    /// [4n] right (0, +step), [4n + 1] left (0, −step), [4n + 2] down (+step, 0), [4n + 3] up (−step, 0); −1 where there is
    /// none. Made with the bank for the steps of its geometry's propagation rounds.
    /// </summary>
    public int[] Neighbours(int step) => _neighbours[step];

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
    public static float Norm(Vector256<float> q) =>
        ((q[0] * q[0] + q[1] * q[1]) + (q[2] * q[2] + q[3] * q[3])) + ((q[4] * q[4] + q[5] * q[5]) + (q[6] * q[6] + q[7] * q[7]));

    /// <summary>
    /// q·key − ‖key‖²/2 of patch <paramref name="n"/> (larger is nearer) in a fixed order: the eight products at once, then
    /// ((q0k0 + q1k1) + (q2k2 + q3k3)) + ((q4k4 + q5k5) + ((q6k6 + q7k7) + bias)) (a pairwise horizontal add is the same
    /// additions as scalar ones, so every machine gets the same score).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Score(Vector256<float> query, int n)
    {
        var products = query * Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(_keys), (nuint)(n * PatchFeatures.Lanes));
        float s01, s23, s45, s67;
        if (Avx.IsSupported)
        {
            var pairs = Avx.HorizontalAdd(products, products); // [s01, s23, s01, s23 | s45, s67, s45, s67]
            (s01, s23, s45, s67) = (pairs.GetElement(0), pairs.GetElement(1), pairs.GetElement(4), pairs.GetElement(5));
        }
        else
            (s01, s23, s45, s67) = (products[0] + products[1], products[2] + products[3], products[4] + products[5], products[6] + products[7]);
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
