using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.Imaging;

/// <summary>Structured exemplars made in the test (periodic over their square): the cases the texture metric and
/// the exemplar denoiser must get right.</summary>
internal static class StructuredExemplars
{
    public static IReadOnlyList<string> Names { get; } = ["bricks", "hexagons", "checkerboard", "gradient"];

    public static Tensor Make(string name, int size) => name switch
    {
        "bricks" => Bricks(size),
        "hexagons" => Hexagons(size),
        "checkerboard" => Checkerboard(size),
        "gradient" => Gradient(size),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    /// <summary>Red bricks with grey mortar: 4 courses, 2 bricks per course, alternate courses offset by half a brick.</summary>
    public static Tensor Bricks(int size)
    {
        var course = size / 4;
        var brick = size / 2;
        var mortar = Math.Max(2, size / 32);
        return TestImages.Build(size, size, (c, y, x) =>
        {
            var row = y / course;
            var along = (x + row % 2 * brick / 2) % brick;
            var isMortar = y % course < mortar || along < mortar;
            return isMortar ? 0.4f : (c == 0 ? 0.3f : -0.6f) + 0.1f * ((row * 7 + (x + row % 2 * brick / 2) / brick * 3) % 3 - 1);
        });
    }

    /// <summary>Yellow hexagonal cells with dark borders (distance to the nearest point of a hexagonal lattice).</summary>
    public static Tensor Hexagons(int size)
    {
        var spacing = size / 4.0;                       // 4 cells across; rows √3/2 apart, rounded so the square repeats
        var rowHeight = size / 4.0 / 2;                 // 8 half-rows of centres (an approximately hexagonal lattice)
        return TestImages.Build(size, size, (c, y, x) =>
        {
            var nearest = double.MaxValue;
            var second = double.MaxValue;
            for (var row = -1; row <= 9; row++)
                for (var col = -1; col <= 5; col++)
                {
                    var cx = (col + (row % 2 == 0 ? 0 : 0.5)) * spacing;
                    var cy = row * rowHeight;
                    var d = Math.Sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy) * 3);
                    if (d < nearest) (second, nearest) = (nearest, d);
                    else if (d < second) second = d;
                }
            var border = second - nearest < size / 40.0;
            return border ? -0.8f : c switch { 0 => 0.8f, 1 => 0.6f, _ => -0.7f };
        });
    }

    public static Tensor Checkerboard(int size)
    {
        var square = size / 8;
        return TestImages.Build(size, size, (c, y, x) => (x / square + y / square) % 2 == 0 ? 0.8f : (c == 2 ? -0.2f : -0.8f));
    }

    /// <summary>A smooth periodic colour gradient (one period across the square in each direction).</summary>
    public static Tensor Gradient(int size) => TestImages.Build(size, size, (c, y, x) =>
        (float)(0.8 * Math.Sin(2 * Math.PI * (x + (c == 1 ? y : 0)) / size + c)));
}
