using OrleansDiffusion.Diffusion.Denoisers;
using OrleansDiffusion.Diffusion.Imaging;

namespace OrleansDiffusion.Diffusion.Tests.Denoisers;

/// <summary>Propagation steps from a patch to its exemplar neighbour: around a wrapped exemplar, or not past its border.</summary>
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
}
