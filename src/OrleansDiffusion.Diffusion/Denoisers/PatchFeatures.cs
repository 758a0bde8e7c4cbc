using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Denoisers;

/// <summary>
/// Eight-dimensional features of the pooled, dilated k×k patch around every pixel, computed separably: each row
/// strip of a patch (C channels × k taps) is projected on its <see cref="Lanes"/> principal components, then the k
/// projected strips of a patch (k·<see cref="Lanes"/> values) on theirs. About a third of the multiply-adds of a
/// full principal-component projection, and a linear map like it, so queries and keys compare in the same space.
/// <para>
/// Every value is float32 arithmetic in one fixed order per pixel (separate multiply and add, lanes over feature
/// dimensions or over pixels that each run the same sequence), so a pixel's feature is a function of its
/// neighbourhood alone, bit for bit: it does not depend on the window it was cut from, the window's size, the
/// batch, or the thread count. This is what keeps halo sync exact without a float64 search.
/// </para>
/// </summary>
internal sealed class PatchFeatures
{
    /// <summary>Feature dimensions (one Vector256 of float32).</summary>
    public const int Lanes = 8;

    // Banks are fitted side by side, one per thread: their own loops stay on that thread (nested parallel loops
    // would wait for pool threads that the other banks hold).
    private static readonly ParallelOptions Sequential = new() { MaxDegreeOfParallelism = 1 };
    private static readonly ParallelOptions Everywhere = new();

    private readonly float[] _rowBasis;    // [(c·k + v)·8 + m]: tap v of channel c in a row strip → strip feature m
    private readonly float[] _columnBasis; // [(u·8 + m)·8 + j]: strip feature m of row u → patch feature j

    private PatchFeatures(PatchGeometry geometry, int channels, float[] rowBasis, float[] columnBasis)
    {
        Geometry = geometry;
        Channels = channels;
        _rowBasis = rowBasis;
        _columnBasis = columnBasis;
    }

    public PatchGeometry Geometry { get; }

    public int Channels { get; }

    /// <summary>Fits both projections to the exemplar's pooled patches (second-moment principal components).</summary>
    public static PatchFeatures Fit(float[] exemplar, int channels, int height, int width, PatchGeometry geometry)
    {
        var (k, s) = (geometry.Size, geometry.Dilation);
        var pooled = Blur(exemplar, 0, channels, height, width, geometry.BlurRadius, 1f, Sequential);
        var (ph, pw) = (height - 2 * geometry.BlurRadius, width - 2 * geometry.BlurRadius);
        var span = (k - 1) * s;

        // Row strips: C·k values at every position of the pooled exemplar.
        var stripSize = channels * k;
        var strip = new double[stripSize];
        var stripMoments = new double[stripSize * stripSize];
        for (var y = 0; y < ph; y++)
            for (var x = 0; x + span < pw; x++)
            {
                for (var c = 0; c < channels; c++)
                    for (var v = 0; v < k; v++)
                        strip[c * k + v] = pooled[(c * ph + y) * pw + x + v * s];
                Accumulate(stripMoments, strip);
            }
        Mirror(stripMoments, stripSize);
        var rowBasis = TopComponents(stripMoments, stripSize);

        var features = new PatchFeatures(geometry, channels, rowBasis, new float[k * Lanes * Lanes]);
        var rows = features.Rows(pooled, ph, pw, Sequential);
        var rowsWidth = pw - span;
        var patchSize = k * Lanes;
        var patch = new double[patchSize];
        var patchMoments = new double[patchSize * patchSize];
        for (var y = 0; y + span < ph; y++)
            for (var x = 0; x < rowsWidth; x++)
            {
                for (var u = 0; u < k; u++)
                    for (var m = 0; m < Lanes; m++)
                        patch[u * Lanes + m] = rows[((y + u * s) * rowsWidth + x) * Lanes + m];
                Accumulate(patchMoments, patch);
            }
        Mirror(patchMoments, patchSize);
        return new PatchFeatures(geometry, channels, rowBasis, TopComponents(patchMoments, patchSize));
    }

    /// <summary>
    /// Features of every pixel of one [C, height, width] image at <paramref name="offset"/> in <paramref name="image"/>
    /// that has the full patch around it, times <paramref name="scale"/>: [(height − 2·FeatureRadius) · (width − 2·FeatureRadius) · 8].
    /// </summary>
    /// <param name="parallel">false: on this thread only (a bank's build, beside the others).</param>
    public float[] Compute(float[] image, int offset, int height, int width, float scale, bool parallel = true)
    {
        var options = parallel ? Everywhere : Sequential;
        var pooled = Blur(image, offset, Channels, height, width, Geometry.BlurRadius, scale, options);
        var (ph, pw) = (height - 2 * Geometry.BlurRadius, width - 2 * Geometry.BlurRadius);
        return Columns(Rows(pooled, ph, pw, options), ph, pw - (Geometry.Size - 1) * Geometry.Dilation, options);
    }

    /// <summary>Box mean of width 2·radius + 1 at stride 1 without padding, times <paramref name="scale"/>: horizontal sums, then vertical.</summary>
    internal static float[] Blur(float[] image, int offset, int channels, int height, int width, int radius, float scale, ParallelOptions options)
    {
        var (oh, ow) = (height - 2 * radius, width - 2 * radius);
        var result = GC.AllocateUninitializedArray<float>(channels * oh * ow); // every element is written below
        var taps = 2 * radius + 1;
        var factor = (float)(scale / ((double)taps * taps));
        if (radius == 0)
        {
            for (var i = 0; i < result.Length; i++) result[i] = image[offset + i] * scale;
            return result;
        }
        var horizontal = GC.AllocateUninitializedArray<float>(channels * height * ow);
        Parallel.For(0, channels * height, options, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (row) =>
        {
            var source = image.AsSpan(offset + row * width, width);
            var target = horizontal.AsSpan(row * ow, ow);
            var x = 0;
            for (; x + Vector256<float>.Count <= ow; x += Vector256<float>.Count)
            {
                var sum = Vector256.Create<float>(source[x..]);
                for (var t = 1; t < taps; t++) sum += Vector256.Create<float>(source[(x + t)..]);
                sum.CopyTo(target[x..]);
            }
            for (; x < ow; x++)
            {
                var sum = source[x];
                for (var t = 1; t < taps; t++) sum += source[x + t];
                target[x] = sum;
            }
        });
        Parallel.For(0, channels * oh, options, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (row) =>
        {
            var (c, y) = (row / oh, row % oh);
            var source = horizontal.AsSpan((c * height + y) * ow);
            var target = result.AsSpan(row * ow, ow);
            var scaled = Vector256.Create(factor);
            var x = 0;
            for (; x + Vector256<float>.Count <= ow; x += Vector256<float>.Count)
            {
                var sum = Vector256.Create<float>(source[x..]);
                for (var t = 1; t < taps; t++) sum += Vector256.Create<float>(source[(t * ow + x)..]);
                (sum * scaled).CopyTo(target[x..]);
            }
            for (; x < ow; x++)
            {
                var sum = source[x];
                for (var t = 1; t < taps; t++) sum += source[t * ow + x];
                target[x] = sum * factor;
            }
        });
        return result;
    }

    /// <summary>Strip features [height · (width − (k−1)·s) · 8] of a pooled [C, height, width] image.</summary>
    private float[] Rows(float[] pooled, int height, int width, ParallelOptions options)
    {
        var (k, s) = (Geometry.Size, Geometry.Dilation);
        var outWidth = width - (k - 1) * s;
        var result = GC.AllocateUninitializedArray<float>(height * outWidth * Lanes);
        var channels = Channels;
        var basis = _rowBasis;
        var pixels = pooled;
        Parallel.For(0, height, options, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (y) =>
        {
            ref var weights = ref MemoryMarshal.GetArrayDataReference(basis);
            for (var x = 0; x < outWidth; x++)
            {
                // Per channel a chain over the taps, then the channels in order (independent chains overlap).
                var sum = Vector256<float>.Zero;
                for (var c = 0; c < channels; c++)
                {
                    ref var row = ref pixels[(c * height + y) * width + x];
                    var part = Vector256.Create(row) * Vector256.LoadUnsafe(ref weights, (nuint)(c * k * Lanes));
                    for (var v = 1; v < k; v++)
                        part += Vector256.Create(Unsafe.Add(ref row, v * s)) * Vector256.LoadUnsafe(ref weights, (nuint)((c * k + v) * Lanes));
                    sum += part;
                }
                sum.StoreUnsafe(ref result[(y * outWidth + x) * Lanes]);
            }
        });
        return result;
    }

    /// <summary>Patch features [(height − (k−1)·s) · width · 8] from strip features [height · width · 8].</summary>
    private float[] Columns(float[] rows, int height, int width, ParallelOptions options)
    {
        var (k, s) = (Geometry.Size, Geometry.Dilation);
        var outHeight = height - (k - 1) * s;
        var result = GC.AllocateUninitializedArray<float>(outHeight * width * Lanes);
        var basis = _columnBasis;
        Parallel.For(0, outHeight, options, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (y) =>
        {
            ref var weights = ref MemoryMarshal.GetArrayDataReference(basis);
            ref var strips = ref MemoryMarshal.GetArrayDataReference(rows);
            for (var x = 0; x < width; x++)
            {
                // Per strip a fixed pairwise sum of its eight products, then the strips in order.
                var sum = Vector256<float>.Zero;
                for (var u = 0; u < k; u++)
                {
                    ref var strip = ref Unsafe.Add(ref strips, ((y + u * s) * width + x) * Lanes);
                    var w = (nuint)(u * Lanes * Lanes);
                    var p01 = Vector256.Create(strip) * Vector256.LoadUnsafe(ref weights, w)
                        + Vector256.Create(Unsafe.Add(ref strip, 1)) * Vector256.LoadUnsafe(ref weights, w + Lanes);
                    var p23 = Vector256.Create(Unsafe.Add(ref strip, 2)) * Vector256.LoadUnsafe(ref weights, w + 2 * Lanes)
                        + Vector256.Create(Unsafe.Add(ref strip, 3)) * Vector256.LoadUnsafe(ref weights, w + 3 * Lanes);
                    var p45 = Vector256.Create(Unsafe.Add(ref strip, 4)) * Vector256.LoadUnsafe(ref weights, w + 4 * Lanes)
                        + Vector256.Create(Unsafe.Add(ref strip, 5)) * Vector256.LoadUnsafe(ref weights, w + 5 * Lanes);
                    var p67 = Vector256.Create(Unsafe.Add(ref strip, 6)) * Vector256.LoadUnsafe(ref weights, w + 6 * Lanes)
                        + Vector256.Create(Unsafe.Add(ref strip, 7)) * Vector256.LoadUnsafe(ref weights, w + 7 * Lanes);
                    sum += (p01 + p23) + (p45 + p67);
                }
                sum.StoreUnsafe(ref result[(y * width + x) * Lanes]);
            }
        });
        return result;
    }

    /// <summary>Adds the outer product of <paramref name="vector"/> with itself to the upper triangle (j ≥ i) of <paramref name="moments"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Accumulate(double[] moments, double[] vector)
    {
        var n = vector.Length;
        ref var v = ref MemoryMarshal.GetArrayDataReference(vector);
        ref var m = ref MemoryMarshal.GetArrayDataReference(moments);
        for (var i = 0; i < n; i++)
        {
            var vi = vector[i];
            if (vi == 0) continue;
            var scaled = Vector256.Create(vi);
            var j = i;
            for (; j + Vector256<double>.Count <= n; j += Vector256<double>.Count)
                (Vector256.LoadUnsafe(ref m, (nuint)(i * n + j)) + scaled * Vector256.LoadUnsafe(ref v, (nuint)j)).StoreUnsafe(ref m, (nuint)(i * n + j));
            for (; j < n; j++) Unsafe.Add(ref m, i * n + j) += vi * Unsafe.Add(ref v, j);
        }
    }

    /// <summary>Copies the upper triangle that <see cref="Accumulate"/> fills onto the lower one (the same products, so the same sums).</summary>
    private static void Mirror(double[] moments, int n)
    {
        for (var i = 0; i < n; i++)
            for (var j = i + 1; j < n; j++) moments[j * n + i] = moments[i * n + j];
    }

    /// <summary>The top <see cref="Lanes"/> eigenvectors of a symmetric [n × n] matrix as [n · 8] (input-major; zero beyond n).</summary>
    private static float[] TopComponents(double[] moments, int n)
    {
        using var scope = NewDisposeScope();
        var (_, vectors) = linalg.eigh(tensor(moments, [n, n])); // ascending eigenvalues, vectors in columns
        var values = vectors.contiguous().data<double>().ToArray();
        var basis = new float[n * Lanes];
        for (var m = 0; m < Math.Min(Lanes, n); m++)
            for (var i = 0; i < n; i++)
                basis[i * Lanes + m] = (float)values[i * n + (n - 1 - m)];
        return basis;
    }
}
