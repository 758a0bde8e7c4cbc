using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Imaging;

/// <summary>
/// Structured exemplars made in code (periodic over their square, in [-1, 1]): the cases the texture metric and the
/// exemplar denoiser must get right, used by the tests and by <c>odiff bench texture</c>.
/// </summary>
public static class StructuredExemplars
{
    public static IReadOnlyList<string> Names { get; } = ["bricks", "hexagons", "checkerboard", "gradient"];

    public static Tensor Make(string name, int size) => name switch
    {
        "bricks" => Bricks(size),
        "hexagons" => Hexagons(size),
        "checkerboard" => Checkerboard(size),
        "gradient" => Gradient(size),
        _ => throw new ArgumentOutOfRangeException(nameof(name), $"unknown structured exemplar '{name}'"),
    };

    /// <summary>
    /// Red bricks with grey mortar, alternate courses offset by half a brick, two bricks per course. Courses are 32 px
    /// tall on large squares (ImageMagick's <c>pattern:bricks</c> scaled ×4), and at least four fill the square.
    /// </summary>
    public static Tensor Bricks(int size)
    {
        var courses = Math.Max(4, size / 32);
        var course = size / courses;
        var brick = 2 * course;
        var mortar = Math.Max(2, course / 8);
        return Build(size, (c, y, x) =>
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
        return Build(size, (c, y, x) =>
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

    /// <summary>Eight squares across, white and dark blue.</summary>
    public static Tensor Checkerboard(int size)
    {
        var square = size / 8;
        return Build(size, (c, y, x) => (x / square + y / square) % 2 == 0 ? 0.8f : (c == 2 ? -0.2f : -0.8f));
    }

    /// <summary>A smooth periodic colour gradient (one period across the square in each direction).</summary>
    public static Tensor Gradient(int size) => Build(size, (c, y, x) =>
        (float)(0.8 * Math.Sin(2 * Math.PI * (x + (c == 1 ? y : 0)) / size + c)));

    private static Tensor Build(int size, Func<int, int, int, float> value)
    {
        var data = new float[3 * size * size];
        for (var c = 0; c < 3; c++)
            for (var y = 0; y < size; y++)
                for (var x = 0; x < size; x++)
                    data[(c * size + y) * size + x] = value(c, y, x);
        return tensor(data, [3, size, size]);
    }
}
