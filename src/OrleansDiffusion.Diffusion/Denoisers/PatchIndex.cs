using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace OrleansDiffusion.Diffusion.Denoisers;

/// <summary>
/// A two-level k-means tree over the bank's 8-dimensional keys: a query descends to the nearest of a few top
/// centres, then to the nearest of that cluster's sub-centres, and is compared with every patch of the leaf there.
/// About 2·∛N² comparisons instead of N, for patches that are nearly as close as the true nearest.
/// <para>
/// Candidates are stored in blocks of eight (Vector256 lanes over candidates, eight key rows then eight biases);
/// a score is bias + Σ_j q_j·key_j in one fixed order, and ties go to the lower candidate, so a query's answer is
/// a function of the query alone.
/// </para>
/// </summary>
internal sealed class PatchIndex
{
    private const int Lanes = PatchFeatures.Lanes;
    private const int BlockFloats = Lanes * (Lanes + 1);
    private const int KMeansIterations = 8;

    // Structured exemplars repeat patches (a brick's flat interior): their leaf is tight, so an evenly spread subset
    // of it finds as close a patch, and bounds the search cost of every query.
    private const int LargestLeafFactor = 2;

    private readonly Level _top;
    private readonly Level[] _middle;
    private readonly Level[][] _leaves;

    private PatchIndex(Level top, Level[] middle, Level[][] leaves)
    {
        _top = top;
        _middle = middle;
        _leaves = leaves;
    }

    /// <summary>Leaves of the tree.</summary>
    public int LeafCount => _leaves.Sum(l => l.Length);

    /// <summary>One node's candidates in blocks, and what each candidate stands for (a child, or a bank index).</summary>
    private sealed record Level(float[] Blocks, int[] Ids);

    /// <param name="keys">[N · 8] features of the bank's patches.</param>
    /// <param name="leaves">leaf clusters in all (null: about N / 48).</param>
    public static PatchIndex Build(float[] keys, int? leaves, int seed)
    {
        var n = keys.Length / Lanes;
        var leafCount = Math.Clamp(leaves ?? (int)Math.Round(n / 24.0), 1, n);
        var topCount = Math.Clamp((int)Math.Ceiling(Math.Sqrt(leafCount)), 1, n);
        var random = new Random(seed);
        var all = Enumerable.Range(0, n).ToArray();
        var (topCentres, topMembers) = KMeans(keys, all, topCount, random);
        var largest = Math.Max(1, LargestLeafFactor * n / leafCount);

        var middle = new Level[topMembers.Length];
        var leafLevels = new Level[topMembers.Length][];
        for (var t = 0; t < topMembers.Length; t++)
        {
            var members = topMembers[t];
            // Sub-clusters in proportion to the cluster's share of the bank: leaves stay about equally large.
            var count = Math.Clamp((int)Math.Round((double)leafCount * members.Length / n), 1, members.Length);
            var (centres, groups) = KMeans(keys, members, count, random);
            middle[t] = Pack(centres, Enumerable.Range(0, groups.Length).ToArray());
            leafLevels[t] = groups.Select(g =>
            {
                if (g.Length > largest) g = Enumerable.Range(0, largest).Select(i => g[(int)((long)i * g.Length / largest)]).ToArray();
                return Pack(Gather(keys, g), g);
            }).ToArray();
        }
        return new PatchIndex(Pack(topCentres, Enumerable.Range(0, topMembers.Length).ToArray()), middle, leafLevels);
    }

    /// <summary>The bank index of the patch nearest to <paramref name="query"/> (8 floats) among those searched.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Nearest(ReadOnlySpan<float> query)
    {
        Span<Vector256<float>> q = stackalloc Vector256<float>[Lanes];
        for (var j = 0; j < Lanes; j++) q[j] = Vector256.Create(query[j]);
        var top = _top.Ids[Best(_top, q)];
        var middle = _middle[top].Ids[Best(_middle[top], q)];
        var leaf = _leaves[top][middle];
        return leaf.Ids[Best(leaf, q)];
    }

    /// <summary>The candidate maximising q·key + bias (−‖key‖²/2: the nearest); the lowest one among equals.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Best(Level level, ReadOnlySpan<Vector256<float>> q)
    {
        ref var blocks = ref MemoryMarshal.GetArrayDataReference(level.Blocks);
        var bestScore = Vector256.Create(float.NegativeInfinity);
        var bestBlock = Vector256<int>.Zero;
        var blockCount = level.Blocks.Length / BlockFloats;
        var (q0, q1, q2, q3, q4, q5, q6, q7) = (q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7]);
        for (var b = 0; b < blockCount; b++)
        {
            var offset = (nuint)(b * BlockFloats);
            // A fixed pairwise order (short dependency chains): ((q0k0 + q1k1) + (q2k2 + q3k3)) + (… + bias).
            var s01 = q0 * Vector256.LoadUnsafe(ref blocks, offset) + q1 * Vector256.LoadUnsafe(ref blocks, offset + Lanes);
            var s23 = q2 * Vector256.LoadUnsafe(ref blocks, offset + 2 * Lanes) + q3 * Vector256.LoadUnsafe(ref blocks, offset + 3 * Lanes);
            var s45 = q4 * Vector256.LoadUnsafe(ref blocks, offset + 4 * Lanes) + q5 * Vector256.LoadUnsafe(ref blocks, offset + 5 * Lanes);
            var s67 = q6 * Vector256.LoadUnsafe(ref blocks, offset + 6 * Lanes) + q7 * Vector256.LoadUnsafe(ref blocks, offset + 7 * Lanes);
            var score = (s01 + s23) + (s45 + (s67 + Vector256.LoadUnsafe(ref blocks, offset + Lanes * Lanes)));
            var better = Vector256.GreaterThan(score, bestScore);
            bestScore = Vector256.ConditionalSelect(better, score, bestScore);
            bestBlock = Vector256.ConditionalSelect(better.AsInt32(), Vector256.Create(b), bestBlock);
        }
        // The best lane, then the lowest candidate among the lanes that reach it (padding lanes score −∞ and every
        // level has a real candidate, so they never win): a max and a min across the lanes, three shuffles each.
        var top = Vector256.Max(bestScore, Vector256.Shuffle(bestScore, Vector256.Create(1, 0, 3, 2, 5, 4, 7, 6)));
        top = Vector256.Max(top, Vector256.Shuffle(top, Vector256.Create(2, 3, 0, 1, 6, 7, 4, 5)));
        top = Vector256.Max(top, Vector256.Shuffle(top, Vector256.Create(4, 5, 6, 7, 0, 1, 2, 3)));
        var candidates = bestBlock * Lanes + Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        var lowest = Vector256.ConditionalSelect(Vector256.Equals(bestScore, top).AsInt32(), candidates, Vector256.Create(int.MaxValue));
        lowest = Vector256.Min(lowest, Vector256.Shuffle(lowest, Vector256.Create(1, 0, 3, 2, 5, 4, 7, 6)));
        lowest = Vector256.Min(lowest, Vector256.Shuffle(lowest, Vector256.Create(2, 3, 0, 1, 6, 7, 4, 5)));
        lowest = Vector256.Min(lowest, Vector256.Shuffle(lowest, Vector256.Create(4, 5, 6, 7, 0, 1, 2, 3)));
        return lowest.ToScalar();
    }

    /// <summary>Candidates [m · 8] into blocks of eight; padding lanes score −∞.</summary>
    private static Level Pack(float[] keys, int[] ids)
    {
        var count = ids.Length;
        var blocks = new float[(count + Lanes - 1) / Lanes * BlockFloats];
        for (var i = 0; i < (count + Lanes - 1) / Lanes * Lanes; i++)
        {
            var (block, lane) = (i / Lanes, i % Lanes);
            var norm = 0.0;
            for (var j = 0; j < Lanes; j++)
            {
                var value = i < count ? keys[i * Lanes + j] : 0f;
                blocks[block * BlockFloats + j * Lanes + lane] = value;
                norm += (double)value * value;
            }
            blocks[block * BlockFloats + Lanes * Lanes + lane] = i < count ? (float)(-0.5 * norm) : float.NegativeInfinity;
        }
        return new Level(blocks, ids);
    }

    private static float[] Gather(float[] keys, int[] members)
    {
        var result = new float[members.Length * Lanes];
        for (var i = 0; i < members.Length; i++) keys.AsSpan(members[i] * Lanes, Lanes).CopyTo(result.AsSpan(i * Lanes));
        return result;
    }

    /// <summary>Deterministic k-means (seeded start, fixed iterations) of the given keys; clusters that end empty are dropped.</summary>
    private static (float[] Centres, int[][] Members) KMeans(float[] keys, int[] members, int count, Random random)
    {
        count = Math.Clamp(count, 1, members.Length);
        var centres = new double[count * Lanes];
        var start = members.OrderBy(_ => random.Next()).Take(count).ToArray();
        for (var c = 0; c < count; c++)
            for (var j = 0; j < Lanes; j++) centres[c * Lanes + j] = keys[start[c] * Lanes + j];
        var assignment = new int[members.Length];
        for (var iteration = 0; ; iteration++)
        {
            Assign(keys, members, centres, count, assignment);
            if (iteration == KMeansIterations) break;
            var sums = new double[count * Lanes];
            var sizes = new int[count];
            for (var i = 0; i < members.Length; i++)
            {
                sizes[assignment[i]]++;
                for (var j = 0; j < Lanes; j++) sums[assignment[i] * Lanes + j] += keys[members[i] * Lanes + j];
            }
            for (var c = 0; c < count; c++)
                if (sizes[c] > 0) // an empty cluster keeps its old centre
                    for (var j = 0; j < Lanes; j++) centres[c * Lanes + j] = sums[c * Lanes + j] / sizes[c];
        }
        var groups = Enumerable.Range(0, count).Select(_ => new List<int>()).ToArray();
        for (var i = 0; i < members.Length; i++) groups[assignment[i]].Add(members[i]);
        var kept = Enumerable.Range(0, count).Where(c => groups[c].Count > 0).ToArray();
        var packed = new float[kept.Length * Lanes];
        for (var c = 0; c < kept.Length; c++)
            for (var j = 0; j < Lanes; j++) packed[c * Lanes + j] = (float)centres[kept[c] * Lanes + j];
        return (packed, kept.Select(c => groups[c].ToArray()).ToArray());
    }

    /// <summary>Each member's nearest centre, searched as a leaf is (float32 scores in blocks of eight; ties to the lower centre).</summary>
    private static void Assign(float[] keys, int[] members, double[] centres, int count, int[] assignment)
    {
        var packed = new float[count * Lanes];
        for (var i = 0; i < packed.Length; i++) packed[i] = (float)centres[i];
        var level = Pack(packed, Enumerable.Range(0, count).ToArray());
        Span<Vector256<float>> q = stackalloc Vector256<float>[Lanes];
        for (var i = 0; i < members.Length; i++)
        {
            for (var j = 0; j < Lanes; j++) q[j] = Vector256.Create(keys[members[i] * Lanes + j]);
            assignment[i] = Best(level, q);
        }
    }
}
