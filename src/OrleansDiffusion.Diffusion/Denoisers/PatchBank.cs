using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Denoisers;

/// <summary>
/// Every exemplar patch of one geometry, indexed for nearest-neighbour search: patches of the pooled exemplar
/// projected on their principal components (conv filters), grouped by k-means into clusters (an inverted file:
/// a query is compared with the centroids, then with every patch of its nearest cluster), and for each patch the
/// sharp exemplar pixels it votes for at each vote tap.
/// </summary>
internal sealed class PatchBank : IDisposable
{
    private const int KMeansIterations = 8;
    private const int LargestClusterFactor = 2;

    private PatchBank(Tensor filters, Tensor centroids, Tensor centroidBias, Cluster[] clusters, Tensor votes)
    {
        Filters = filters;
        Centroids = centroids;
        CentroidBias = centroidBias;
        Clusters = clusters;
        Votes = votes;
    }

    /// <summary>[d, C, k, k]: a dilated convolution with these gives each pixel's projected patch.</summary>
    public Tensor Filters { get; }

    /// <summary>[d, K] cluster centres and −‖c‖²/2 [K]: the nearest centre maximises q·c − ‖c‖²/2.</summary>
    public Tensor Centroids { get; }

    public Tensor CentroidBias { get; }

    public Cluster[] Clusters { get; }

    /// <summary>[V, N, C]: the exemplar pixel patch n puts at vote tap v.</summary>
    public Tensor Votes { get; }

    /// <summary>One cluster: its patches' projected keys [d, m], −‖key‖²/2 [m], bank indices [m].</summary>
    public sealed record Cluster(Tensor Keys, Tensor Bias, Tensor Members);

    public static PatchBank Build(Tensor exemplar, PatchGeometry geometry, ExemplarDenoiserOptions options)
    {
        using var scope = NewDisposeScope();
        var source = exemplar.to(ScalarType.Float32).contiguous();
        var channels = (int)source.shape[0];
        var height = (int)source.shape[1];
        var width = (int)source.shape[2];
        var (k, s, blurRadius) = (geometry.Size, geometry.Dilation, geometry.BlurRadius);
        var margin = geometry.Radius;
        var positions = Positions(height, width, margin, options.PatchCount, options.BankSeed);
        var count = positions.Length;

        // Patches of the pooled exemplar; the pooled image is smaller by the blur radius on each side.
        var pooled = ExemplarDenoiser.Blur(source.unsqueeze(0), geometry).squeeze(0).contiguous().data<float>().ToArray();
        var pooledWidth = width - 2 * blurRadius;
        var pooledHeight = height - 2 * blurRadius;
        var size = channels * k * k;
        var data = new float[count * size];
        var r = k / 2;
        for (var n = 0; n < count; n++)
        {
            var (y, x) = positions[n];
            for (var c = 0; c < channels; c++)
                for (var u = 0; u < k; u++)
                    for (var v = 0; v < k; v++)
                        data[n * size + (c * k + u) * k + v] =
                            pooled[(c * pooledHeight + y - blurRadius + (u - r) * s) * pooledWidth + x - blurRadius + (v - r) * s];
        }
        var patches = tensor(data, [count, size]);
        var bias = patches.square().sum(1) * -0.5f;

        Tensor basis; // [d, size]: orthonormal rows spanning the patches' principal directions
        var dims = options.ProjectionDims;
        if (dims is null || dims.Value >= Math.Min(count, size)) basis = eye(size);
        else
        {
            // Principal directions from the small [size × size] second-moment matrix (eigh sorts ascending).
            var moments = patches.to(ScalarType.Float64).t().mm(patches.to(ScalarType.Float64));
            var (_, vectors) = linalg.eigh(moments);
            basis = vectors.narrow(1, size - dims.Value, dims.Value).flip(1).t().to(ScalarType.Float32).contiguous();
        }
        var keys = patches.to(ScalarType.Float64).mm(basis.t().to(ScalarType.Float64)).contiguous(); // [N, d]
        // Distances within the projected space (projected norms): the patch a query was cut from is then its nearest.
        bias = keys.square().sum(1).mul(-0.5);

        var pixels = source.data<float>().ToArray();
        var half = geometry.Votes / 2;
        var taps = geometry.Votes * geometry.Votes;
        var votes = new float[taps * count * channels];
        for (var t = 0; t < taps; t++)
        {
            var (du, dv) = (t / geometry.Votes - half, t % geometry.Votes - half);
            for (var n = 0; n < count; n++)
            {
                var (y, x) = positions[n];
                for (var c = 0; c < channels; c++)
                    votes[(t * count + n) * channels + c] = pixels[(c * height + y - du * s) * width + x - dv * s];
            }
        }

        var clusters = BuildIndex(keys, bias, options.Clusters ?? Math.Max(1, (int)Math.Round(Math.Sqrt(count))), options.BankSeed);
        // The search runs in float64: the last bits of a feature can depend on the window's size (the convolution's
        // blocking), and in float32 that is enough to flip a near-tie between two patches between tilings.
        var filters = basis.reshape(basis.shape[0], channels, k, k).to(ScalarType.Float64).contiguous();
        return new PatchBank(filters.DetachFromDisposeScope(), clusters.Centroids.DetachFromDisposeScope(),
            clusters.CentroidBias.DetachFromDisposeScope(), clusters.Members, tensor(votes, [taps, count, channels]).DetachFromDisposeScope());
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

    /// <summary>Deterministic k-means (fixed seed and iteration count) of the keys; returns centres and per-cluster tensors.</summary>
    private static (Tensor Centroids, Tensor CentroidBias, Cluster[] Members) BuildIndex(Tensor keys, Tensor bias, int count, int seed)
    {
        var n = (int)keys.shape[0];
        count = Math.Clamp(count, 1, n);
        var random = new Random(seed);
        var start = Enumerable.Range(0, n).OrderBy(_ => random.Next()).Take(count).Select(i => (long)i).ToArray();
        var centres = keys.index_select(0, tensor(start)).t().contiguous(); // [d, K]
        Tensor assignment = Assign(keys, centres);
        for (var iteration = 0; iteration < KMeansIterations; iteration++)
        {
            var sums = zeros(count, keys.shape[1], ScalarType.Float64).index_add_(0, assignment, keys, 1);
            var sizes = bincount(assignment, minlength: count).to(ScalarType.Float64).unsqueeze(1);
            // An empty cluster keeps its old centre.
            var updated = where(sizes > 0, sums / sizes.clamp_min(1), centres.t());
            centres = updated.t().contiguous();
            assignment = Assign(keys, centres);
        }
        var ids = assignment.data<long>().ToArray();
        var largest = Math.Max(1, LargestClusterFactor * n / count);
        var clusters = new List<Cluster>();
        var kept = new List<long>();
        for (var c = 0; c < count; c++)
        {
            var indices = Enumerable.Range(0, n).Where(i => ids[i] == c).Select(i => (long)i).ToArray();
            if (indices.Length == 0) continue; // a query must never land in a cluster with no patches
            // Structured exemplars repeat patches (a brick's flat interior): their cluster is tight, so an evenly
            // spread subset of it finds as close a patch, and bounds the search cost of every query.
            if (indices.Length > largest) indices = Enumerable.Range(0, largest).Select(i => indices[(int)((long)i * indices.Length / largest)]).ToArray();
            var members = tensor(indices, ScalarType.Int64);
            clusters.Add(new Cluster(
                keys.index_select(0, members).t().contiguous().DetachFromDisposeScope(),
                bias.index_select(0, members).DetachFromDisposeScope(),
                members.DetachFromDisposeScope()));
            kept.Add(c);
        }
        centres = centres.index_select(1, tensor(kept.ToArray())).contiguous();
        return (centres, centres.square().sum(0).mul(-0.5), [.. clusters]);
    }

    private static Tensor Assign(Tensor keys, Tensor centres) =>
        keys.mm(centres).add_(centres.square().sum(0).mul(-0.5)).argmax(1);

    public void Dispose()
    {
        Filters.Dispose();
        Centroids.Dispose();
        CentroidBias.Dispose();
        Votes.Dispose();
        foreach (var cluster in Clusters)
        {
            cluster.Keys.Dispose();
            cluster.Bias.Dispose();
            cluster.Members.Dispose();
        }
    }
}
