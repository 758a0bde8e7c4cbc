using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Noise;

/// <summary>
/// Gaussian noise addressed by canvas coordinates: the value at (x, y, channel, step) depends only on the
/// seed and those coordinates, never on the tiling or on which machine computes it. That makes results
/// independent of tile layout and silo count, and lets overlapping tiles inject the very same noise.
/// </summary>
public sealed class NoiseField(long seed)
{
    private const ulong StepKey = 0x9E3779B97F4A7C15UL;
    private const ulong ChannelKey = 0xC2B2AE3D27D4EB4FUL;
    private const ulong RowKey = 0x165667B19E3779F9UL;
    private const ulong ColumnKey = 0xD6E8FEB86659FD93UL;

    public long Seed { get; } = seed;

    /// <summary>Standard normal samples, shape [channels, rows.Length, columns.Length], for the given canvas coordinates.</summary>
    public Tensor Sample(int step, int channels, IReadOnlyList<long> rows, IReadOnlyList<long> columns)
    {
        var height = rows.Count;
        var width = columns.Count;
        var values = new float[channels * height * width];
        var stepKey = Mix(Mix((ulong)Seed) ^ ((ulong)(step + 1) * StepKey));
        Parallel.For(0, channels * height, line =>
        {
            var c = line / height;
            var rowKey = Mix(Mix(stepKey ^ ((ulong)(c + 1) * ChannelKey)) ^ ((ulong)(rows[line % height] + 1) * RowKey));
            var offset = line * width;
            for (var i = 0; i < width; i++)
                values[offset + i] = Gaussian(Mix(rowKey ^ ((ulong)(columns[i] + 1) * ColumnKey)));
        });
        return tensor(values, [channels, height, width]);
    }

    /// <summary>Box–Muller on the two 32-bit halves of one hash.</summary>
    private static float Gaussian(ulong hash)
    {
        var u1 = ((hash >> 32) + 0.5) / 4294967296.0;
        var u2 = ((hash & 0xFFFFFFFFUL) + 0.5) / 4294967296.0;
        return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
    }

    /// <summary>SplitMix64 finaliser: a bijective avalanche mix.</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
