using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Imaging;

/// <summary>Coherence and completeness at one scale of the pyramid (1, 1/2, 1/4).</summary>
public sealed record TextureScaleScore(double Scale, double Coherence, double Completeness);

/// <summary>Bidirectional patch similarity at every scale, plus the means over the scales.</summary>
public sealed record TextureScoreResult(IReadOnlyList<TextureScaleScore> Scales)
{
    public double Coherence => Scales.Average(s => s.Coherence);
    public double Completeness => Scales.Average(s => s.Completeness);
}

/// <summary>
/// Bidirectional patch similarity (Simakov et al. 2008) of an output against its exemplar, at scales 1, 1/2, 1/4.
/// Coherence: the mean distance from an output patch to its nearest exemplar patch. Completeness: the mean distance
/// from an exemplar patch to its nearest output patch. Both are divided by one normaliser, the completeness distance
/// of a flat image of the exemplar's mean colour (the exemplar patches' mean squared distance to that colour), so a
/// flat image scores completeness 1 (and coherence at most 1), a copy scores about 0, and worse than flat scores above 1.
/// </summary>
public static class TextureScore
{
    /// <summary>Side of the compared patches, at every scale.</summary>
    public const int PatchSize = 7;

    /// <summary>Pooling factors of the pyramid.</summary>
    public static IReadOnlyList<int> Factors { get; } = [1, 2, 4];

    /// <summary>The smallest image side the 1/4 scale still has a patch in.</summary>
    public const int MinimumSide = PatchSize * 4;

    /// <param name="output">[3, H, W] in [-1, 1].</param>
    /// <param name="exemplar">[3, h, w] in [-1, 1].</param>
    /// <param name="maxQueries">patches whose nearest neighbour is looked up, per direction and scale (a fixed random
    /// sample beyond it: the mean stays unbiased).</param>
    /// <param name="maxReferences">patches searched; beyond it a centred crop is searched (dense, so copies still match).</param>
    public static TextureScoreResult Compute(Tensor output, Tensor exemplar, int maxQueries = 1024, int maxReferences = 65536)
    {
        Check(output, nameof(output));
        Check(exemplar, nameof(exemplar));
        if (output.shape[0] != exemplar.shape[0]) throw new ArgumentException("output and exemplar must have the same channels", nameof(exemplar));
        using var scope = NewDisposeScope();
        var mean = exemplar.to(ScalarType.Float32).mean([1, 2], keepdim: true);
        var scales = new List<TextureScaleScore>();
        foreach (var factor in Factors)
        {
            var exemplarQueries = SampledPatches(exemplar, factor, maxQueries, 17);
            var outputQueries = SampledPatches(output, factor, maxQueries, 29);
            var flat = Patches(mean.expand(-1, Extent(factor), Extent(factor)).contiguous(), factor);
            var normaliser = Math.Max((exemplarQueries - flat).square().sum(1).mean().item<float>(), 1e-12f);
            var coherence = MeanNearest(outputQueries, Patches(Crop(exemplar, maxReferences, factor), factor)) / normaliser;
            var completeness = MeanNearest(exemplarQueries, Patches(Crop(output, maxReferences, factor), factor)) / normaliser;
            scales.Add(new TextureScaleScore(1.0 / factor, coherence, completeness));
        }
        return new TextureScoreResult(scales);
    }

    private static void Check(Tensor image, string name)
    {
        if (image.dim() != 3) throw new ArgumentException("must be [channels, height, width]", name);
        if (image.shape[1] < MinimumSide || image.shape[2] < MinimumSide)
            throw new ArgumentException($"must be at least {MinimumSide}×{MinimumSide} pixels, got {image.shape[2]}×{image.shape[1]}", name);
    }

    /// <summary>Pixels one patch spans at a pooling factor.</summary>
    private static int Extent(int factor) => (PatchSize - 1) * factor + factor;

    /// <summary>
    /// Every patch of the image pooled by <paramref name="factor"/>, at every pooling phase: a box filter of that width at
    /// stride 1, then taps <paramref name="factor"/> apart. A shifted copy then matches whatever its offset. [positions, C·k²].
    /// </summary>
    private static Tensor Patches(Tensor image, int factor)
    {
        var batch = image.to(ScalarType.Float32).unsqueeze(0);
        var pooled = factor == 1 ? batch : nn.functional.avg_pool2d(batch, [factor, factor], [1, 1]);
        return nn.functional.unfold(pooled, PatchSize, dilation: factor).squeeze(0).t().contiguous();
    }

    /// <summary>
    /// The patches of <see cref="Patches"/> at a fixed random sample of <paramref name="count"/> positions (all when there
    /// are fewer), cut from the pooled image directly: the working memory stays that of the sample, whatever the image size.
    /// </summary>
    private static Tensor SampledPatches(Tensor image, int factor, int count, int seed)
    {
        using var scope = NewDisposeScope();
        var batch = image.to(ScalarType.Float32).unsqueeze(0);
        var pooled = (factor == 1 ? batch : nn.functional.avg_pool2d(batch, [factor, factor], [1, 1])).squeeze(0);
        var (channels, height, width) = ((int)pooled.shape[0], (int)pooled.shape[1], (int)pooled.shape[2]);
        var span = (PatchSize - 1) * factor;
        var (rows, columns) = (height - span, width - span);
        var total = rows * columns;
        long[] picked;
        if (total <= count) picked = Enumerable.Range(0, total).Select(i => (long)i).ToArray();
        else
        {
            var random = new Random(seed);
            picked = Enumerable.Range(0, total).OrderBy(_ => random.Next()).Take(count).Order().Select(i => (long)i).ToArray();
        }
        // Flat pooled-image index of every tap of every picked patch, in unfold's order (row-major taps).
        var taps = PatchSize * PatchSize;
        var indices = new long[picked.Length * taps];
        for (var i = 0; i < picked.Length; i++)
        {
            var (y, x) = (picked[i] / columns, picked[i] % columns);
            for (var t = 0; t < taps; t++) indices[i * taps + t] = (y + t / PatchSize * factor) * width + x + t % PatchSize * factor;
        }
        var gathered = pooled.reshape(channels, -1).index_select(1, tensor(indices)).reshape(channels, picked.Length, taps);
        return gathered.permute(1, 0, 2).reshape(picked.Length, channels * taps).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>The centred crop whose patch positions at <paramref name="factor"/> fit in <paramref name="maxPositions"/>.</summary>
    private static Tensor Crop(Tensor image, int maxPositions, int factor)
    {
        var height = (int)image.shape[1];
        var width = (int)image.shape[2];
        var side = (int)Math.Sqrt(maxPositions) + Extent(factor) - 1;
        var h = Math.Min(height, side);
        var w = Math.Min(width, side);
        return image.narrow(1, (height - h) / 2, h).narrow(2, (width - w) / 2, w);
    }

    /// <summary>Mean over queries of the squared distance to the nearest reference, in blocks of references.</summary>
    private static double MeanNearest(Tensor queries, Tensor references)
    {
        using var scope = NewDisposeScope();
        var queryNorms = queries.square().sum(1, keepdim: true);
        Tensor? best = null;
        const int Block = 8192;
        for (long start = 0; start < references.shape[0]; start += Block)
        {
            var block = references.narrow(0, start, Math.Min(Block, references.shape[0] - start));
            var distances = addmm(queryNorms + block.square().sum(1).unsqueeze(0), queries, block.t(), beta: 1, alpha: -2).amin([1]);
            best = best is null ? distances : minimum(best, distances);
        }
        return ScalarMath.AtLeast(best!, 0).mean().item<float>();
    }
}
