using OrleansDiffusion.Diffusion.Schedulers;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Denoisers;

/// <summary>
/// A local patch-mosaic denoiser in the spirit of the equivariant local score machine (Kamb &amp; Ganguli 2024) and
/// texture optimisation (Kwatra et al. 2005). Coarse to fine: at high noise the window is pooled ×4 (then ×2, then
/// not at all, see <see cref="PatchSizeSchedule"/>) and its dilated patches are matched against the equally pooled
/// exemplar, so one patch covers a brick course. Each pixel's patch is looked up in the whole bank (every exemplar
/// position) through a k-means index over principal-component features, and the posterior is the single nearest
/// patch (the zero-temperature limit, which commits to one patch instead of averaging toward the mean colour);
/// x̂0 at a pixel is the mean of the sharp exemplar pixels that the nearest patches of its neighbours place on it.
/// <para>
/// Local and translation equivariant (stride-1 pooling, no padding: the halo supplies the border), so a window with
/// its halo computes exactly what the whole canvas would. Each window is computed on its own with fixed-size steps,
/// so its result does not depend on the other windows in the batch.
/// </para>
/// </summary>
public sealed class ExemplarDenoiser : IDenoiser
{
    private readonly ExemplarDenoiserOptions _options;
    private readonly Dictionary<PatchGeometry, PatchBank> _banks = [];

    public ExemplarDenoiser(Tensor exemplar, ExemplarDenoiserOptions? options = null, string name = "exemplar")
    {
        Name = name;
        _options = options ?? new ExemplarDenoiserOptions();
        if (exemplar.dim() != 3) throw new ArgumentException("exemplar must be [channels, height, width]", nameof(exemplar));
        Channels = (int)exemplar.shape[0];
        var height = (int)exemplar.shape[1];
        var width = (int)exemplar.shape[2];
        var margin = _options.Schedule.LargestRadius;
        if (height <= 2 * margin + 1 || width <= 2 * margin + 1)
            throw new ArgumentException($"exemplar must be larger than {2 * margin + 1}×{2 * margin + 1} pixels (the widest patch), got {width}×{height}", nameof(exemplar));

        foreach (var geometry in _options.Schedule.Levels.Select(l => l.Geometry).Distinct())
            _banks[geometry] = PatchBank.Build(exemplar, geometry, _options);
    }

    /// <summary>Names the exemplar in output metadata, e.g. "exemplar:marble".</summary>
    public string Name { get; }

    public int Channels { get; }
    public PredictionType Prediction => PredictionType.Sample;

    public int Halo(DenoiseContext context) => _options.Schedule.At(context.AlphaBar).Radius;

    public int MaxHalo => _options.Schedule.LargestRadius;

    public Tensor Predict(Tensor input, int halo, DenoiseContext context)
    {
        var geometry = _options.Schedule.At(context.AlphaBar);
        if (halo != geometry.Radius) throw new ArgumentException($"step {context.Step} needs a halo of {geometry.Radius}, got {halo}", nameof(halo));
        var bank = _banks[geometry];
        var batch = (int)input.shape[0];
        var outHeight = input.shape[2] - 2 * halo;
        var outWidth = input.shape[3] - 2 * halo;
        using var scope = NewDisposeScope();
        var results = new Tensor[batch];
        // Window by window: a window's result then never depends on which other windows share its batch, so
        // in-process and cluster runs agree bit for bit.
        for (var b = 0; b < batch; b++)
        {
            var nearest = Nearest(input.narrow(0, b, 1).to(ScalarType.Float64), bank, geometry, Math.Sqrt(context.AlphaBar));
            results[b] = Vote(nearest, bank, geometry, outHeight, outWidth);
        }
        return stack(results).MoveToOuterDisposeScope();
    }

    /// <summary>The bank index of each feature pixel's nearest patch: [h + 2·votes radius, w + 2·votes radius].</summary>
    private Tensor Nearest(Tensor window, PatchBank bank, PatchGeometry geometry, double a)
    {
        using var scope = NewDisposeScope();
        // x_t / a ≈ x0 + noise: compared with clean exemplar patches; ‖x‖² is common to all patches and drops out.
        var features = nn.functional.conv2d(Blur(window, geometry), bank.Filters, dilation: [geometry.Dilation, geometry.Dilation]);
        var (height, width) = (features.shape[2], features.shape[3]);
        var queries = features.squeeze(0).reshape(features.shape[1], -1).t().contiguous().mul_(1 / a); // [P, d]
        var pixels = queries.shape[0];
        var chunk = _options.ChunkPixels;

        var cluster = empty(pixels, ScalarType.Int64);
        for (long start = 0; start < pixels; start += chunk)
        {
            var length = Math.Min(chunk, pixels - start);
            cluster.narrow(0, start, length).copy_(queries.narrow(0, start, length).mm(bank.Centroids).add_(bank.CentroidBias).argmax(1));
        }

        // Pixels grouped by cluster (a stable sort: the grouping, and so every block, is a function of the window alone).
        var (sorted, order) = cluster.sort(stable: true);
        var counts = bincount(sorted, minlength: bank.Clusters.Length).data<long>().ToArray();
        var best = empty(pixels, ScalarType.Int64);
        long offset = 0;
        for (var c = 0; c < counts.Length; c++)
        {
            var members = bank.Clusters[c];
            for (long start = 0; start < counts[c]; start += chunk)
            {
                using var inner = NewDisposeScope();
                var rows = order.narrow(0, offset + start, Math.Min(chunk, counts[c] - start));
                var scores = queries.index_select(0, rows).mm(members.Keys).add_(members.Bias);
                best.index_copy_(0, rows, members.Members.index_select(0, scores.argmax(1)));
            }
            offset += counts[c];
        }
        return best.reshape(height, width).MoveToOuterDisposeScope();
    }

    /// <summary>x̂0 [C, h, w]: per pixel, the mean of what the nearest patches of the vote taps around it put there.</summary>
    private Tensor Vote(Tensor nearest, PatchBank bank, PatchGeometry geometry, long height, long width)
    {
        using var scope = NewDisposeScope();
        var votes = geometry.Votes;
        var s = geometry.Dilation;
        var sum = zeros(height * width, Channels);
        for (var t = 0; t < votes * votes; t++)
        {
            var (u, v) = (t / votes, t % votes);
            var indices = nearest.narrow(0, u * s, height).narrow(1, v * s, width).reshape(-1);
            sum.add_(bank.Votes[t].index_select(0, indices));
        }
        return sum.div_(votes * votes).t().reshape(Channels, height, width).MoveToOuterDisposeScope();
    }

    /// <summary>Average pool of width 2·radius + 1 at stride 1 without padding (the halo supplies the border).</summary>
    internal static Tensor Blur(Tensor batch, PatchGeometry geometry)
    {
        var width = 2 * geometry.BlurRadius + 1;
        return width == 1 ? batch.alias() : nn.functional.avg_pool2d(batch, [width, width], [1, 1]);
    }

    public void Dispose()
    {
        foreach (var bank in _banks.Values) bank.Dispose();
    }
}
