namespace OrleansDiffusion.Diffusion.Imaging;

/// <summary>Seeded noise on the torus: every function of (u, v) here repeats exactly over the unit square,
/// because each lattice is indexed modulo an integer period. Textures built from it tile seamlessly, which
/// the exemplar denoiser relies on when it samples patches with wrap-around.</summary>
internal sealed class PeriodicNoise
{
    private const int GradientCount = 16;
    private static readonly float[] GradientX = Enumerable.Range(0, GradientCount).Select(i => MathF.Cos(i * 2 * MathF.PI / GradientCount)).ToArray();
    private static readonly float[] GradientY = Enumerable.Range(0, GradientCount).Select(i => MathF.Sin(i * 2 * MathF.PI / GradientCount)).ToArray();

    private readonly uint _seed;
    private readonly int _maxFrequency;

    /// <param name="seed">Any value; equal seeds give equal noise.</param>
    /// <param name="maxFrequency">Octaves above this many lattice cells per unit are skipped: they would be finer
    /// than the pixels and only alias.</param>
    public PeriodicNoise(long seed, int maxFrequency)
    {
        _seed = Mix(Mix((uint)seed) ^ (uint)(seed >> 32) ^ 0x9E3779B9u);
        _maxFrequency = Math.Max(maxFrequency, 1);
    }

    /// <summary>A well-mixed 32-bit hash of a lattice point and a layer (independent streams per layer).</summary>
    public uint Hash(int x, int y, int layer)
    {
        var h = Mix(_seed ^ (uint)layer * 0x27D4EB2Fu);
        h = Mix(h ^ (uint)x * 0x85EBCA6Bu);
        return Mix(h ^ (uint)y * 0xC2B2AE35u);
    }

    /// <summary>A uniform value in [0, 1) for a lattice point.</summary>
    public float Random(int x, int y, int layer) => (Hash(x, y, layer) >> 8) * (1f / (1 << 24));

    /// <summary>Gradient (Perlin) noise in about [-1, 1] at lattice coordinates (x, y), periodic in x with
    /// <paramref name="periodX"/> and in y with <paramref name="periodY"/> lattice cells.</summary>
    public float Gradient(float x, float y, int periodX, int periodY, int layer)
    {
        var x0 = (int)MathF.Floor(x);
        var y0 = (int)MathF.Floor(y);
        var fx = x - x0;
        var fy = y - y0;
        int ix0 = Mod(x0, periodX), ix1 = Mod(x0 + 1, periodX), iy0 = Mod(y0, periodY), iy1 = Mod(y0 + 1, periodY);
        var n00 = Corner(ix0, iy0, layer, fx, fy);
        var n10 = Corner(ix1, iy0, layer, fx - 1, fy);
        var n01 = Corner(ix0, iy1, layer, fx, fy - 1);
        var n11 = Corner(ix1, iy1, layer, fx - 1, fy - 1);
        var sx = Fade(fx);
        var sy = Fade(fy);
        var top = n00 + sx * (n10 - n00);
        var bottom = n01 + sx * (n11 - n01);
        return (top + sy * (bottom - top)) * MathF.Sqrt(2);
    }

    /// <summary>Fractal Brownian motion over the unit square: octaves at baseFrequency · 2^k cells per unit,
    /// amplitudes gain^k, normalised to about [-1, 1] (typical spread ±0.3).</summary>
    public float Fbm(float u, float v, int baseFrequency, int octaves, int layer, float gain = 0.5f) =>
        Octaves(u, v, baseFrequency, octaves, layer, gain, static n => n);

    /// <summary>Sum of |noise| octaves in [0, 1]: creased, billowy structure (marble turbulence).</summary>
    public float Turbulence(float u, float v, int baseFrequency, int octaves, int layer, float gain = 0.5f) =>
        Octaves(u, v, baseFrequency, octaves, layer, gain, MathF.Abs);

    /// <summary>Ridged octaves (1 − |noise|)² in [0, 1]: sharp crests like mountain ridges.</summary>
    public float Ridged(float u, float v, int baseFrequency, int octaves, int layer, float gain = 0.5f) =>
        Octaves(u, v, baseFrequency, octaves, layer, gain, static n => (1 - MathF.Abs(n)) * (1 - MathF.Abs(n)));

    /// <summary>Periodic Voronoi (Worley) lookup with <paramref name="cells"/> × <paramref name="cells"/> jittered
    /// feature points per unit square; (u, v) may lie outside [0, 1).</summary>
    public VoronoiSample Voronoi(float u, float v, int cells, int layer)
    {
        var gx = u * cells;
        var gy = v * cells;
        var cx = (int)MathF.Floor(gx);
        var cy = (int)MathF.Floor(gy);
        float f1 = float.MaxValue, f2 = float.MaxValue, dx1 = 0, dy1 = 0;
        uint id = 0;
        for (var j = -1; j <= 1; j++)
        {
            for (var i = -1; i <= 1; i++)
            {
                int wx = Mod(cx + i, cells), wy = Mod(cy + j, cells);
                // Jitter stays inside the central 80% of the cell, which keeps the 3x3 search exact for F1.
                var dx = gx - (cx + i + 0.1f + 0.8f * Random(wx, wy, layer));
                var dy = gy - (cy + j + 0.1f + 0.8f * Random(wx, wy, layer + 1));
                var distance = dx * dx + dy * dy;
                if (distance < f1)
                {
                    (f2, f1, dx1, dy1, id) = (f1, distance, dx, dy, Hash(wx, wy, layer + 2));
                }
                else if (distance < f2)
                {
                    f2 = distance;
                }
            }
        }

        return new VoronoiSample(MathF.Sqrt(f1), MathF.Sqrt(f2), id, dx1, dy1);
    }

    private float Octaves(float u, float v, int baseFrequency, int octaves, int layer, float gain, Func<float, float> shape)
    {
        float sum = 0, norm = 0, amplitude = 1;
        for (int k = 0, frequency = baseFrequency; k < octaves && (k == 0 || frequency <= _maxFrequency); k++, frequency *= 2, amplitude *= gain)
        {
            sum += amplitude * shape(Gradient(u * frequency, v * frequency, frequency, frequency, layer + k));
            norm += amplitude;
        }

        return sum / norm;
    }

    private float Corner(int ix, int iy, int layer, float dx, float dy)
    {
        var g = Hash(ix, iy, layer) % GradientCount;
        return GradientX[g] * dx + GradientY[g] * dy;
    }

    private static float Fade(float t) => t * t * t * (t * (t * 6 - 15) + 10);

    private static int Mod(int value, int period) => ((value % period) + period) % period;

    private static uint Mix(uint h)
    {
        h ^= h >> 16;
        h *= 0x7FEB352Du;
        h ^= h >> 15;
        h *= 0x846CA68Bu;
        return h ^ (h >> 16);
    }
}
