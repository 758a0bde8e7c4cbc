using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using OrleansDiffusion.Diffusion.Schedulers;
using OrleansDiffusion.Diffusion.Sync;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Denoisers;

/// <summary>
/// A local patch-mosaic denoiser in the spirit of the equivariant local score machine (Kamb &amp; Ganguli 2024) and
/// texture optimisation (Kwatra et al. 2005). Coarse to fine: at high noise the window is pooled ×8 (then ×4, ×2, then
/// not at all, see <see cref="PatchSizeSchedule"/>) and its dilated patches are matched against the equally pooled
/// exemplar, so one patch covers a brick course; there every canvas block copies its centre's match, so that a block is
/// one coherent copy (<see cref="Snap"/>). Each pixel's patch is looked up in the whole bank (every exemplar
/// position) through a k-means tree over separable principal-component features, and the posterior is the single
/// nearest patch (the zero-temperature limit, which commits to one patch instead of averaging toward the mean
/// colour); rounds of PatchMatch-style propagation then let a pixel take a neighbour's match, shifted, where it fits
/// nearly as well, so that neighbouring matches are coherent copies (a tap apart, then, at the coarse levels, between
/// taps); x̂0 at a pixel is the mean of the sharp exemplar pixels that the matches of its neighbours place on it.
/// <para>
/// Local (stride-1 pooling, no padding: the halo supplies the border) and translation equivariant, at the coarse levels
/// for shifts by whole blocks (the window's canvas position, <see cref="DenoiseContext.Origins"/>, places them), so a
/// window with its halo computes exactly what the whole canvas would. Every pixel's features, search and vote are float32
/// arithmetic in one fixed order that depends on nothing but its neighbourhood, so the result is bit for bit the
/// same whatever the window, its batch, the tiling or the thread count.
/// </para>
/// </summary>
public sealed class ExemplarDenoiser : IDenoiser
{
    private readonly ExemplarDenoiserOptions _options;
    private readonly Dictionary<PatchGeometry, PatchBank> _banks = [];
    private readonly int _side;

    public ExemplarDenoiser(Tensor exemplar, ExemplarDenoiserOptions? options = null, string name = "exemplar")
    {
        Name = name;
        _options = options ?? new ExemplarDenoiserOptions();
        if (exemplar.dim() != 3) throw new ArgumentException("exemplar must be [channels, height, width]", nameof(exemplar));
        Channels = (int)exemplar.shape[0];
        var height = (int)exemplar.shape[1];
        var width = (int)exemplar.shape[2];
        _side = Math.Min(height, width);
        var margin = _options.Schedule.For(_side).Max(l => l.Geometry.PatchRadius);
        if (height <= 2 * margin + 1 || width <= 2 * margin + 1)
            throw new ArgumentException($"exemplar must be larger than {2 * margin + 1}×{2 * margin + 1} pixels (the widest patch), got {width}×{height}", nameof(exemplar));

        float[] pixels;
        // The exemplar and its cast are held while native calls read them: TorchSharp frees a collected tensor on the
        // finalizer thread, and a caller may pass a temporary.
        using (var floats = exemplar.to(ScalarType.Float32))
        using (var planar = floats.contiguous())
            pixels = planar.data<float>().ToArray();
        GC.KeepAlive(exemplar);
        // A periodic exemplar (every procedural texture) is wrapped around by the widest patch, so every one of its
        // positions is a patch at every level; another image gives only the patches that lie wholly inside it.
        Periodic = IsPeriodic(pixels, Channels, height, width);
        var pad = Periodic ? margin : 0;
        var source = Periodic ? Wrap(pixels, Channels, height, width, pad) : pixels;
        // The banks are independent (each seeds its own index), so they are built side by side.
        var geometries = _options.Schedule.For(_side).Select(l => l.Geometry).Distinct().ToArray();
        var banks = new PatchBank[geometries.Length];
        Parallel.For(0, geometries.Length, i => banks[i] = PatchBank.Build(
            source, Channels, height + 2 * pad, width + 2 * pad, Math.Max(pad, geometries[i].PatchRadius), Periodic ? pad : null, geometries[i], _options));
        for (var i = 0; i < geometries.Length; i++) _banks[geometries[i]] = banks[i];
    }

    /// <summary>Whether the exemplar repeats seamlessly (its bank then wraps around it).</summary>
    public bool Periodic { get; }

    /// <summary>Names the exemplar in output metadata, e.g. "exemplar:marble".</summary>
    public string Name { get; }

    public int Channels { get; }
    public PredictionType Prediction => PredictionType.Sample;

    public int Halo(DenoiseContext context) => _options.Schedule.At(context.AlphaBar, _side).Radius;

    /// <summary>The schedule's widest halo (plans are made with it before the exemplar is loaded).</summary>
    public int MaxHalo => _options.Schedule.LargestRadius;

    public Tensor Predict(Tensor input, int halo, DenoiseContext context)
    {
        var geometry = _options.Schedule.At(context.AlphaBar, _side);
        if (halo != geometry.Radius) throw new ArgumentException($"step {context.Step} needs a halo of {geometry.Radius}, got {halo}", nameof(halo));
        if (input.dim() != 4 || input.shape[1] != Channels) throw new ArgumentException($"input must be [batch, {Channels}, height, width]", nameof(input));
        var bank = _banks[geometry];
        var (batch, height, width) = ((int)input.shape[0], (int)input.shape[2], (int)input.shape[3]);
        var (outHeight, outWidth) = (height - 2 * halo, width - 2 * halo);
        // x_t / a ≈ c·x0 + noise, compared with clean exemplar patches (‖x‖² is common to all patches and drops out) once
        // divided by c, the share of the image the sampler has put in so far (DenoiseContext.SignalFraction). Undivided,
        // every query is shrunk toward zero, and its nearest patch is the one nearest mid-grey: clouds shrank to puffs on
        // blue sky and marble turned to dark vein fragments, step after step (512² clouds completeness .082 → .031).
        var signal = context.SignalFraction;
        var scale = (float)(1 / (Math.Sqrt(context.AlphaBar) * (signal > 0 ? signal : 1)));
        // The noise of x_t (deviation √(1 − ᾱ)) in every feature lane: scaled with the query, averaged by the pool.
        var noise = (float)(Math.Sqrt(1 - context.AlphaBar) * scale / (2 * geometry.BlurRadius + 1));
        using var scope = NewDisposeScope();
        var results = new Tensor[batch];
        // Window by window, each on its own: its result never depends on which other windows share its batch, and the
        // working memory is that of one window whatever the batch (a 2048² canvas is 49 windows in one call).
        for (var b = 0; b < batch; b++)
        {
            var pixels = GC.AllocateUninitializedArray<float>(Channels * height * width);
            // One block copy: TorchSharp's element accessor (data<float>().CopyTo) walks index by index.
            using (var planar = input[b].to(ScalarType.Float32).contiguous()) SyncKernels.Floats(planar).CopyTo(pixels);
            var features = bank.Features.Compute(pixels, 0, height, width, scale);
            bank.Condition(features, noise, signal > 0);
            var nearest = Nearest(features, bank.Index);
            var featureWidth = width - 2 * geometry.FeatureRadius;
            var featureHeight = height - 2 * geometry.FeatureRadius;
            var inset = geometry.Spread;
            if (inset > 0)
            {
                var (y, x) = context.Origin(b);
                nearest = Snap(nearest, featureHeight, featureWidth, bank, inset, y + geometry.FeatureRadius, x + geometry.FeatureRadius);
            }
            var coherence = (float)(1 + _options.Coherence);
            foreach (var step in geometry.PropagationSteps)
            {
                nearest = Propagate(nearest, featureHeight - 2 * inset, featureWidth - 2 * inset, features, featureWidth, inset, bank, coherence, step);
                inset += step;
            }
            var result = GC.AllocateUninitializedArray<float>(Channels * outHeight * outWidth); // the vote writes every element
            Vote(nearest, bank, outHeight, outWidth, result);
            results[b] = tensor(result, [Channels, outHeight, outWidth]);
        }
        return stack(results).MoveToOuterDisposeScope();
    }

    /// <summary>The bank index of each feature pixel's nearest patch.</summary>
    private static int[] Nearest(float[] features, PatchIndex index)
    {
        var pixels = features.Length / PatchFeatures.Lanes;
        var nearest = GC.AllocateUninitializedArray<int>(pixels);
        const int Chunk = 512;
        Parallel.For(0, (pixels + Chunk - 1) / Chunk, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (chunk) =>
        {
            var end = Math.Min(pixels, (chunk + 1) * Chunk);
            for (var p = chunk * Chunk; p < end; p++) nearest[p] = index.Nearest(features.AsSpan(p * PatchFeatures.Lanes, PatchFeatures.Lanes));
        });
        return nearest;
    }

    /// <summary>
    /// Copies, in every block of 2·<paramref name="radius"/> canvas pixels square (blocks aligned to the canvas origin),
    /// the match of the block's centre pixel onto the others, each shifted by its offset from the centre (its own match
    /// where the shifted patch would leave a non-periodic exemplar). Pixels a pooled tap apart otherwise match
    /// independently, and their votes average many disagreeing copies: hatching, and thin structures (mortar) fade
    /// toward the dominant colour; one copy per block keeps them sharp (on the 256² brick wall of
    /// <c>odiff bench texture</c> the mortar then forms courses). Blocks follow canvas coordinates, not the window, so
    /// any window computes what the whole canvas does. Returns the inner [h − 2·radius, w − 2·radius] grid: every
    /// centre lies within <paramref name="radius"/> of the pixels it serves.
    /// </summary>
    /// <param name="originY">canvas row of the grid's first pixel.</param>
    /// <param name="originX">canvas column of the grid's first pixel.</param>
    private static int[] Snap(int[] nearest, int height, int width, PatchBank bank, int radius, int originY, int originX)
    {
        var (outHeight, outWidth, block) = (height - 2 * radius, width - 2 * radius, 2 * radius);
        var result = GC.AllocateUninitializedArray<int>(outHeight * outWidth);
        // Offset from a grid pixel at canvas coordinate c to its block's centre: radius − (c mod block), in (−radius, radius].
        static int ToCentre(int c, int block, int radius) => radius - ((c % block) + block) % block;
        Parallel.For(0, outHeight, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (y) =>
        {
            var (gy, dy) = (y + radius, ToCentre(originY + y + radius, block, radius));
            for (var x = 0; x < outWidth; x++)
            {
                var (gx, dx) = (x + radius, ToCentre(originX + x + radius, block, radius));
                var copied = bank.Shifted(nearest[(gy + dy) * width + gx + dx], -dy, -dx);
                result[y * outWidth + x] = copied >= 0 ? copied : nearest[gy * width + gx];
            }
        });
        return result;
    }

    /// <summary>
    /// One round of PatchMatch-style propagation over a [h, w] grid of matches, Jacobi style (every pixel reads the
    /// previous round only): the nearest of the matches of its four neighbours <paramref name="step"/> pixels away, each
    /// shifted back by that step, replaces a pixel's own match unless that is nearer by more than the factor
    /// <paramref name="coherence"/> (in squared feature distance). Returns the [h − 2·step, w − 2·step] inner grid. Ties
    /// keep the earlier neighbour (left, right, up, down), so the result is a function of the neighbourhood alone.
    /// </summary>
    /// <param name="offset">where the grid's first pixel lies in the feature grid (whose width is <paramref name="featureWidth"/>).</param>
    private static int[] Propagate(int[] nearest, int height, int width, float[] features, int featureWidth, int offset, PatchBank bank, float coherence, int step)
    {
        var (outHeight, outWidth) = (height - 2 * step, width - 2 * step);
        var result = GC.AllocateUninitializedArray<int>(outHeight * outWidth);
        var neighbours = bank.Neighbours(step);
        Parallel.For(0, outHeight, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (y) =>
        {
            Span<int> candidates = stackalloc int[4];
            for (var x = 0; x < outWidth; x++)
            {
                var at = (y + step) * width + x + step;
                var own = nearest[at];
                candidates[0] = neighbours[4 * nearest[at - step]];
                candidates[1] = neighbours[4 * nearest[at + step] + 1];
                candidates[2] = neighbours[4 * nearest[at - step * width] + 2];
                candidates[3] = neighbours[4 * nearest[at + step * width] + 3];
                // Inside a coherent copy every neighbour's shifted match is the pixel's own: nothing to compare.
                if ((candidates[0] < 0 || candidates[0] == own) && (candidates[1] < 0 || candidates[1] == own)
                    && (candidates[2] < 0 || candidates[2] == own) && (candidates[3] < 0 || candidates[3] == own))
                {
                    result[y * outWidth + x] = own;
                    continue;
                }
                var query = Vector256.Create<float>(features.AsSpan(((y + step + offset) * featureWidth + x + step + offset) * PatchFeatures.Lanes, PatchFeatures.Lanes));
                var (ownScore, scored) = (0f, false);
                var (shifted, shiftedScore) = (-1, float.NegativeInfinity);
                foreach (var candidate in candidates)
                {
                    if (candidate < 0 || candidate == shifted) continue;
                    if (candidate == own && !scored) (ownScore, scored) = (bank.Score(query, own), true);
                    var score = candidate == own ? ownScore : bank.Score(query, candidate);
                    if (score > shiftedScore) (shifted, shiftedScore) = (candidate, score);
                }
                // Squared distances are ‖q‖² − 2·score; a neighbour's shifted match wins unless the pixel's own match
                // is nearer by more than the coherence factor (Ashikhmin's coherence rule).
                var best = own;
                if (shifted >= 0 && shifted != own)
                {
                    if (!scored) ownScore = bank.Score(query, own);
                    var norm = PatchBank.Norm(query);
                    if (norm - 2 * shiftedScore <= coherence * (norm - 2 * ownScore)) best = shifted;
                }
                result[y * outWidth + x] = best;
            }
        });
        return result;
    }

    /// <summary>x̂0 [C, h, w]: per pixel, the mean of what the nearest patches of the vote taps around it put there.</summary>
    private void Vote(int[] nearest, PatchBank bank, int height, int width, float[] target)
    {
        var geometry = bank.Geometry;
        var (votes, s, channels) = (geometry.Votes, geometry.Dilation, Channels);
        var nearestWidth = width + (votes - 1) * s;
        var mean = 1f / (votes * votes);
        Parallel.For(0, height, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (y) =>
        {
            // One row's sums, pixel-major, taps added in order; then the mean into the planar target.
            var sums = new float[width * channels];
            for (var t = 0; t < votes * votes; t++)
            {
                var (u, v) = (t / votes, t % votes);
                var tap = bank.Votes[t];
                var row = nearest.AsSpan((y + u * s) * nearestWidth + v * s, width);
                if (channels == 3)
                    for (var x = 0; x < width; x++)
                    {
                        var source = row[x] * 3;
                        sums[3 * x] += tap[source];
                        sums[3 * x + 1] += tap[source + 1];
                        sums[3 * x + 2] += tap[source + 2];
                    }
                else
                    for (var x = 0; x < width; x++)
                        for (var c = 0; c < channels; c++) sums[x * channels + c] += tap[row[x] * channels + c];
            }
            for (var c = 0; c < channels; c++)
            {
                var plane = target.AsSpan((c * height + y) * width, width);
                for (var x = 0; x < width; x++) plane[x] = sums[x * channels + c] * mean;
            }
        });
    }

    /// <summary>
    /// Seamless both ways: the mean step across each wrap (last row or column to the first) is at most twice the mean
    /// step between neighbours inside. A photo's opposite borders differ far more than neighbouring pixels do.
    /// </summary>
    internal static bool IsPeriodic(float[] pixels, int channels, int height, int width)
    {
        double inside = 0, across = 0, wrapRows = 0, wrapColumns = 0;
        for (var c = 0; c < channels; c++)
            for (var y = 0; y < height; y++)
            {
                var row = (c * height + y) * width;
                var below = (c * height + (y + 1) % height) * width;
                for (var x = 0; x < width; x++)
                {
                    var right = Math.Abs(pixels[row + (x + 1) % width] - pixels[row + x]);
                    var down = Math.Abs(pixels[below + x] - pixels[row + x]);
                    if (x == width - 1) wrapColumns += right; else inside += right;
                    if (y == height - 1) wrapRows += down; else across += down;
                }
            }
        var stepX = inside / (channels * height * (width - 1.0));
        var stepY = across / (channels * width * (height - 1.0));
        return wrapColumns / (channels * height) <= 2 * stepX + 1e-6 && wrapRows / (channels * width) <= 2 * stepY + 1e-6;
    }

    /// <summary>The image extended by <paramref name="pad"/> on every side with its own wrapped-around pixels.</summary>
    private static float[] Wrap(float[] pixels, int channels, int height, int width, int pad)
    {
        var (h, w) = (height + 2 * pad, width + 2 * pad);
        var result = new float[channels * h * w];
        for (var c = 0; c < channels; c++)
            for (var y = 0; y < h; y++)
                for (var x = 0; x < w; x++)
                    result[(c * h + y) * w + x] = pixels[(c * height + ((y - pad) % height + height) % height) * width + ((x - pad) % width + width) % width];
        return result;
    }

    public void Dispose()
    {
    }
}
