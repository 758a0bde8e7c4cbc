using OrleansDiffusion.Diffusion.Denoisers;
using OrleansDiffusion.Diffusion.Imaging;

namespace OrleansDiffusion.Diffusion.Tests.Denoisers;

/// <summary>
/// Propagation steps from a patch to its exemplar neighbour: around a wrapped exemplar, or not past its border; noisy
/// queries brought within the keys' spread.
/// </summary>
public class PatchBankTests
{
    private static readonly PatchGeometry Geometry = new(3, 1);

    private static float[] Pixels(int size)
    {
        using var image = StructuredExemplars.Gradient(size);
        return image.contiguous().data<float>().ToArray();
    }

    [Fact]
    public void A_shift_wraps_around_a_periodic_exemplar()
    {
        const int Size = 32;
        var pad = Geometry.PatchRadius;
        var pixels = Pixels(Size + 2 * pad); // any image: only the centres' layout is tested
        var bank = PatchBank.Build(pixels, 3, Size + 2 * pad, Size + 2 * pad, pad, pad, Geometry, new ExemplarDenoiserOptions());
        // Patch 0 is centred at (pad, pad), the original image's corner; one row up and one column left wraps to the far corner.
        var corner = bank.Shifted(0, -1, -1);
        Assert.Equal(Size * Size - 1, corner);
        Assert.Equal(0, bank.Shifted(corner, 1, 1));
        Assert.Equal(Size, bank.Shifted(0, 1, 0));
    }

    [Fact]
    public void The_neighbour_tables_are_the_shifts_by_each_propagation_step()
    {
        const int Size = 32;
        var geometry = new PatchGeometry(3, 2, FineStep: 1);
        var pad = geometry.PatchRadius;
        var bank = PatchBank.Build(Pixels(Size + 2 * pad), 3, Size + 2 * pad, Size + 2 * pad, pad, pad, geometry, new ExemplarDenoiserOptions());
        Assert.Equal([2, 1], geometry.PropagationSteps);
        foreach (var step in new[] { 2, 1 })
        {
            var table = bank.Neighbours(step);
            for (var n = 0; n < Size * Size; n++)
                Assert.Equal([bank.Shifted(n, 0, step), bank.Shifted(n, 0, -step), bank.Shifted(n, step, 0), bank.Shifted(n, -step, 0)], table[(4 * n)..(4 * n + 4)]);
        }
    }

    [Fact]
    public void A_shift_past_the_border_of_another_image_finds_no_patch()
    {
        const int Size = 32;
        var margin = Geometry.PatchRadius;
        var bank = PatchBank.Build(Pixels(Size), 3, Size, Size, margin, null, Geometry, new ExemplarDenoiserOptions());
        Assert.Equal(-1, bank.Shifted(0, -1, 0));
        Assert.Equal(1, bank.Shifted(0, 0, 1));
    }

    [Fact]
    public void Queries_far_noisier_than_the_bank_no_longer_all_find_its_extremes()
    {
        const float Noise = 20; // pixel deviation: far above the spread of the marble's patches
        var (bank, wrapped, side) = MarbleBank();
        var random = new Random(7);
        var noisy = wrapped.Select(v => v + Noise * (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()))).ToArray();
        var raw = bank.Features.Compute(noisy, 0, side, side, 1f);
        var conditioned = (float[])raw.Clone();
        bank.Condition(conditioned, Noise, signal: true);

        var (rawUse, conditionedUse) = (Usage(bank, raw), Usage(bank, conditioned));
        // Unconditioned, a few extremes take the queries (346 patches of 2,304 are used, the busiest 62 times); brought
        // within the keys' spread, more than twice as many are, and the busiest takes at most two thirds as many (816, 36).
        Assert.True(3 * conditionedUse.Max() <= 2 * rawUse.Max(), $"busiest patch {rawUse.Max()} -> {conditionedUse.Max()}");
        Assert.True(conditionedUse.Count(u => u > 0) >= 2 * rawUse.Count(u => u > 0), $"patches used {rawUse.Count(u => u > 0)} -> {conditionedUse.Count(u => u > 0)}");
    }

    [Fact]
    public void Lanes_that_stand_out_of_the_noise_are_left_as_they_are()
    {
        var (bank, wrapped, side) = MarbleBank();
        var features = bank.Features.Compute(wrapped, 0, side, side, 1f);
        var conditioned = (float[])features.Clone();
        bank.Condition(conditioned, 1e-3f, signal: true);
        for (var i = 0; i < features.Length; i++) Assert.Equal(features[i], conditioned[i], 1e-4f);
    }

    /// <summary>A 5×5 bank of a 48² marble, wrapped around by its patch radius as the denoiser wraps it.</summary>
    private static (PatchBank Bank, float[] Wrapped, int Side) MarbleBank()
    {
        const int Size = 48;
        var geometry = new PatchGeometry(5, 1);
        var pad = geometry.PatchRadius;
        using var marble = ProceduralTextures.Generate("marble", Size, seed: 1);
        var pixels = marble.contiguous().data<float>().ToArray();
        var side = Size + 2 * pad;
        var wrapped = new float[3 * side * side];
        for (var c = 0; c < 3; c++)
            for (var y = 0; y < side; y++)
                for (var x = 0; x < side; x++)
                    wrapped[(c * side + y) * side + x] = pixels[(c * Size + (y - pad + Size) % Size) * Size + (x - pad + Size) % Size];
        return (PatchBank.Build(wrapped, 3, side, side, pad, pad, geometry, new ExemplarDenoiserOptions()), wrapped, side);
    }

    /// <summary>How many of the queries each bank patch is the nearest to (indexed by patch; the bank is no larger than the query grid).</summary>
    private static int[] Usage(PatchBank bank, float[] features)
    {
        var pixels = features.Length / PatchFeatures.Lanes;
        var use = new int[pixels];
        for (var p = 0; p < pixels; p++) use[bank.Index.Nearest(features.AsSpan(p * PatchFeatures.Lanes, PatchFeatures.Lanes))]++;
        return use;
    }
}
