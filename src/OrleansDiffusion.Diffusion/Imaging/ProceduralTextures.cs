using System.Numerics;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Imaging;

/// <summary>Built-in exemplar textures, generated in code so the product renders with no downloaded data.
/// Every texture is periodic over its square (built from <see cref="PeriodicNoise"/> and exact repeats), so the
/// exemplar denoiser's wrap-around patches never see a seam, and each is deterministic in (name, size, seed).</summary>
public static class ProceduralTextures
{
    private delegate Vector3[] Painter(int size, PeriodicNoise noise);

    private static readonly (string Name, Painter Paint)[] Textures =
    [
        ("marble", Marble),
        ("bricks", Bricks),
        ("wood", Wood),
        ("clouds", Clouds),
        ("cells", Cells),
        ("terrain", Terrain),
        ("lava", Lava),
        ("water", Water),
        ("stone", Stone),
    ];

    /// <summary>The texture names <see cref="Generate"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = Textures.Select(t => t.Name).ToArray();

    /// <summary>A float32 [3, size, size] texture in [-1, 1]. Detail scales with the size; the layout (number of
    /// bricks, cells, rings) is fixed per texture so any size shows the same material.</summary>
    public static Tensor Generate(string name, int size, long seed)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 8);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, 4096);
        var index = Array.FindIndex(Textures, t => t.Name.Equals(name, StringComparison.OrdinalIgnoreCase));
        if (index < 0)
        {
            throw new ArgumentException($"Unknown texture '{name}'; valid names: {string.Join(", ", Names)}.", nameof(name));
        }

        var pixels = Textures[index].Paint(size, new PeriodicNoise(seed, size / 2));
        var planar = new float[3 * pixels.Length];
        for (var i = 0; i < pixels.Length; i++)
        {
            var colour = Vector3.Clamp(pixels[i], Vector3.Zero, Vector3.One) * 2 - Vector3.One;
            planar[i] = colour.X;
            planar[pixels.Length + i] = colour.Y;
            planar[2 * pixels.Length + i] = colour.Z;
        }

        return tensor(planar, [3, size, size]);
    }

    private static Vector3[] Marble(int size, PeriodicNoise noise) => Paint(size, (u, v, _) =>
    {
        // Veins are the zero crossings of a sine of a periodic phase, bent by warped turbulence (Perlin's marble):
        // two bold grey veins per repeat with a dark core and a wide soft halo, so they read at every scale (a
        // patch method rebuilds them from the coarse scales down), and fainter thin veins crossing them.
        var turbulence = noise.Turbulence(u, v, 2, 4, 0);
        var warp = noise.Fbm(u, v, 1, 3, 10);
        var main = 1 - MathF.Abs(MathF.Sin(MathF.PI * (u + 2 * v) + 3 * turbulence + 2.5f * warp));
        var strength = 0.55f + 0.45f * Smooth(-0.3f, 0.3f, noise.Fbm(u, v, 2, 3, 20));
        var fine = 1 - MathF.Abs(MathF.Sin(2 * MathF.PI * (2 * u - v) + 5 * noise.Turbulence(u, v, 2, 4, 30)));
        var stone = Vector3.Lerp(Hex(0xF6F4F0), Hex(0xE4E1DC), Smooth(-0.4f, 0.5f, noise.Fbm(u, v, 4, 5, 40)));
        stone = Vector3.Lerp(stone, Hex(0xD2D3D6), 0.25f * Smooth(0.0f, 0.5f, noise.Fbm(u, v, 2, 4, 50)));
        stone = Vector3.Lerp(stone, Hex(0x8E9096), 0.4f * MathF.Pow(fine, 16) * Smooth(0.0f, 0.3f, noise.Fbm(u, v, 2, 3, 60)));
        stone = Vector3.Lerp(stone, Hex(0xA4A5AB), 0.75f * strength * MathF.Pow(main, 3));
        return Vector3.Lerp(stone, Hex(0x4A4B53), 0.95f * strength * MathF.Pow(main, 12));
    });

    private static Vector3[] Bricks(int size, PeriodicNoise noise) => Paint(size, (u, v, _) =>
    {
        // 8 courses of 4 bricks, every other course offset by half a brick: an exact repeat over the square. The
        // mortar is a quarter of a course high, and the bricks vary in tone less than mortar differs from them, so
        // the courses and joints are what a glance (and a patch search) sees first.
        const int Courses = 8, PerCourse = 4;
        const float Mortar = 0.015f;
        var row = Math.Min((int)(v * Courses), Courses - 1);
        var fy = v * Courses - row;
        var along = u * PerCourse + 0.5f * (row % 2);
        var column = (int)MathF.Floor(along);
        var fx = along - column;
        column %= PerCourse;
        var edge = MathF.Min(MathF.Min(fx, 1 - fx) / PerCourse, MathF.Min(fy, 1 - fy) / Courses);
        edge += 0.003f * noise.Fbm(u, v, 16, 3, 0); // Ragged, hand-laid edges.

        var brick = Vector3.Lerp(Hex(0x9E4530), Hex(0xB25E3A), noise.Random(column, row, 10));
        brick = Vector3.Lerp(brick, Hex(0x74301F), 0.4f * MathF.Pow(noise.Random(column, row, 11), 3));
        brick *= 0.92f + 0.16f * noise.Random(column, row, 12);
        brick *= 1 + 0.1f * noise.Fbm(u, v, 32, 3, 20) + 0.04f * noise.Fbm(u, v, 4, 3, 30);
        brick *= 0.75f + 0.25f * Smooth(Mortar, Mortar + 0.01f, edge); // Rounded arrises catch less light.

        var mortar = Hex(0xC2BCB0) * (0.9f + 0.1f * noise.Fbm(u, v, 24, 3, 40));
        return Vector3.Lerp(mortar, brick, Smooth(Mortar - 0.002f, Mortar + 0.002f, edge));
    });

    private static Vector3[] Wood(int size, PeriodicNoise noise) => Paint(size, (u, v, _) =>
    {
        // Flat-sawn board: growth rings run along u (7 per repeat, unevenly spaced and waved), each light
        // earlywood darkening into a wide latewood band with a crisp edge; ring darkness varies ring to ring.
        const int Rings = 7;
        var arch = 0.08f * MathF.Cos(2 * MathF.PI * u + 2 * noise.Fbm(u, v, 1, 2, 15));
        var ring = (v + arch + 0.1f * noise.Fbm(u, v, 1, 3, 0) + 0.015f * noise.Fbm(u, v, 4, 2, 5)) * Rings;
        var index = (int)MathF.Floor(ring);
        var position = ring - index;
        var darkness = 0.65f + 0.35f * noise.Random(((index % Rings) + Rings) % Rings, 0, 10);
        var latewood = Smooth(0.5f, 0.8f, position) * (1 - Smooth(0.93f, 1f, position));
        // Fibres follow the rings: noise in (u, ring) space, which is periodic because ring grows by Rings per repeat.
        var fibres = 0.7f * noise.Gradient(u * 3, ring * 14, 3, Rings * 14, 20) + 0.3f * noise.Gradient(u * 8, ring * 32, 8, Rings * 32, 21);
        var pores = Smooth(0.5f, 0.9f, noise.Gradient(u * 40, ring * 24, 40, Rings * 24, 22));
        var shade = Math.Clamp(0.15f + 0.7f * latewood * darkness + 0.12f * fibres + 0.1f * pores, 0, 1);
        return Ramp(shade, WoodRamp) * (0.95f + 0.08f * noise.Fbm(u, v, 1, 3, 30));
    });

    private static Vector3[] Clouds(int size, PeriodicNoise noise) => Paint(size, (u, v, _) =>
    {
        // Cumulus: thresholded fBm density over a blue sky, lit from above (tops bright, bases grey) by comparing
        // the smoother large-scale density with the density just above the pixel. Few fine octaves: rounded,
        // cauliflower-edged bodies rather than speckle.
        float Body(float y) => noise.Fbm(u, y, 2, 3, 0);
        var density = Body(v) + 0.15f * noise.Fbm(u, v, 8, 3, 4);
        var cover = Smooth(-0.02f, 0.16f, density);
        var lit = Math.Clamp(0.6f + 8 * (Body(v) - Body(v - 0.03f)) + 0.8f * (density - 0.15f), 0, 1);
        var sky = Vector3.Lerp(Hex(0x3C79C2), Hex(0x7DAEE0), 0.5f + 0.7f * noise.Fbm(u, v, 1, 3, 20));
        var cloud = Vector3.Lerp(Hex(0x98A2B6), Hex(0xFFFFFF), lit);
        return Vector3.Lerp(sky, cloud, cover);
    });

    private static Vector3[] Cells(int size, PeriodicNoise noise) => Paint(size, (u, v, _) =>
    {
        // Stained tissue: Voronoi cells (pink cytoplasm), dark membranes on the borders, elliptical purple nuclei.
        const float Wobble = 0.012f;
        var cell = noise.Voronoi(u + Wobble * noise.Fbm(u, v, 6, 3, 0), v + Wobble * noise.Fbm(u, v, 6, 3, 5), 7, 10);
        var r = (cell.Id & 0xFFFF) / 65535f;
        var angle = (cell.Id >> 16) / 65535f * MathF.PI;
        var (sin, cos) = MathF.SinCos(angle);
        var along = (cell.Dx * cos + cell.Dy * sin) / 1.35f;
        var across = -cell.Dx * sin + cell.Dy * cos;
        var nucleusDistance = MathF.Sqrt(along * along + across * across);
        var radius = 0.2f + 0.06f * r + 0.03f * noise.Fbm(u, v, 24, 2, 20);

        var cytoplasm = Vector3.Lerp(Hex(0xEDB3CB), Hex(0xD68CB2), r) * (0.92f + 0.1f * noise.Fbm(u, v, 48, 3, 30));
        var chromatin = Smooth(-0.2f, 0.5f, noise.Fbm(u, v, 64, 2, 40));
        var nucleus = Vector3.Lerp(Hex(0x6A3A96), Hex(0x3A1C5E), chromatin);
        var colour = Vector3.Lerp(cytoplasm, nucleus, 1 - Smooth(radius - 0.03f, radius + 0.02f, nucleusDistance));
        var membrane = 1 - Smooth(0.02f, 0.09f, cell.Edge + 0.02f * noise.Fbm(u, v, 20, 2, 50));
        return Vector3.Lerp(colour, Hex(0x8A3F76), 0.85f * membrane);
    });

    private static Vector3[] Terrain(int size, PeriodicNoise noise)
    {
        // Height = fBm plus ridges, coloured by elevation and hill-shaded from the north-west.
        var height = Field(size, (u, v) => 0.65f * noise.Fbm(u, v, 2, 8, 0) + 0.35f * noise.Ridged(u, v, 3, 6, 20));
        var (low, high) = (height.Min(), height.Max());
        for (var i = 0; i < height.Length; i++)
        {
            height[i] = (height[i] - low) / Math.Max(high - low, 1e-6f);
        }

        var light = Vector3.Normalize(new Vector3(-1, -1, 1.4f));
        return Paint(size, (_, _, i) =>
        {
            int x = i % size, y = i / size;
            var dx = height[y * size + (x + 1) % size] - height[y * size + (x + size - 1) % size];
            var dy = height[(y + 1) % size * size + x] - height[(y + size - 1) % size * size + x];
            var normal = Vector3.Normalize(new Vector3(-dx * size * 0.1f, -dy * size * 0.1f, 1));
            var shade = Math.Clamp(Vector3.Dot(normal, light), 0, 1);
            return Ramp(height[i], TerrainRamp) * (0.45f + 0.75f * shade);
        });
    }

    private static Vector3[] Lava(int size, PeriodicNoise noise) => Paint(size, (u, v, _) =>
    {
        // Dark cooled crust plates split by glowing cracks, with hotter patches where the crust is thin.
        var plate = noise.Voronoi(u + 0.04f * noise.Fbm(u, v, 4, 4, 0), v + 0.04f * noise.Fbm(u, v, 4, 4, 5), 5, 10);
        var crack = 1 - Smooth(0.0f, 0.16f + 0.06f * noise.Fbm(u, v, 8, 2, 20), plate.Edge);
        var thin = Smooth(0.15f, 0.6f, noise.Fbm(u, v, 3, 5, 30)) * 0.45f;
        var heat = Math.Clamp(crack + thin * (1 - crack), 0, 1);
        var crust = Hex(0x2A1E1A) * (0.6f + 0.8f * Smooth(-0.5f, 0.5f, noise.Fbm(u, v, 16, 4, 40)));
        return Vector3.Lerp(crust, Ramp(heat, LavaRamp), Smooth(0.05f, 0.35f, heat));
    });

    private static Vector3[] Water(int size, PeriodicNoise noise) => Paint(size, (u, v, _) =>
    {
        // Pool water: two warped Voronoi networks of bright caustic lines over a blue-green depth gradient.
        var warpU = 0.05f * noise.Fbm(u, v, 3, 3, 0);
        var warpV = 0.05f * noise.Fbm(u, v, 3, 3, 5);
        var coarse = 1 - Smooth(0.0f, 0.12f, noise.Voronoi(u + warpU, v + warpV, 6, 10).Edge);
        var fine = 1 - Smooth(0.0f, 0.1f, noise.Voronoi(u - warpV, v + warpU, 10, 20).Edge);
        var depth = Vector3.Lerp(Hex(0x0B5573), Hex(0x1B8DA6), 0.5f + 0.8f * noise.Fbm(u, v, 2, 4, 30));
        return depth + Hex(0x9FE6EE) * (0.55f * coarse * coarse + 0.3f * fine * fine);
    });

    private static Vector3[] Stone(int size, PeriodicNoise noise) => Paint(size, (u, v, _) =>
    {
        // Cobblestones: irregular Voronoi stones, domed and lit from the top-left, set in dark soil joints.
        var stone = noise.Voronoi(u + 0.02f * noise.Fbm(u, v, 8, 3, 0), v + 0.02f * noise.Fbm(u, v, 8, 3, 5), 6, 10);
        var r1 = (stone.Id & 0xFFFF) / 65535f;
        var r2 = (stone.Id >> 16) / 65535f;
        var dome = Smooth(0.0f, 0.4f, stone.Edge);
        var shade = 0.7f + 0.3f * dome - 0.35f * (stone.Dx + stone.Dy) * (1 - dome);
        var surface = Vector3.Lerp(Hex(0x8E8982), Hex(0x6D737A), r1) * (0.8f + 0.35f * r2);
        surface *= shade * (0.9f + 0.15f * noise.Fbm(u, v, 32, 3, 20));
        var soil = Hex(0x3B342B) * (0.8f + 0.3f * noise.Fbm(u, v, 24, 2, 30));
        return Vector3.Lerp(soil, surface, Smooth(0.03f, 0.08f, stone.Edge));
    });

    private static readonly (float At, Vector3 Colour)[] TerrainRamp =
    [
        (0.00f, Hex(0x2C5426)),
        (0.35f, Hex(0x5C8A38)),
        (0.55f, Hex(0x9C8C5A)),
        (0.70f, Hex(0x7A654E)),
        (0.84f, Hex(0x8E8B87)),
        (0.93f, Hex(0xF0F0F2)),
        (1.00f, Hex(0xFFFFFF)),
    ];

    private static readonly (float At, Vector3 Colour)[] WoodRamp =
    [
        (0.0f, Hex(0xE2B680)),
        (0.35f, Hex(0xC8925A)),
        (0.7f, Hex(0x94602F)),
        (1.0f, Hex(0x5E3518)),
    ];

    private static readonly (float At, Vector3 Colour)[] LavaRamp =
    [
        (0.0f, Hex(0x2A1E1A)),
        (0.3f, Hex(0x8E1B06)),
        (0.6f, Hex(0xE5530F)),
        (0.85f, Hex(0xFFB13B)),
        (1.0f, Hex(0xFFE9A0)),
    ];

    /// <summary>Evaluates <paramref name="pixel"/>(u, v, index) for every pixel, u = x / size, v = y / size.</summary>
    private static Vector3[] Paint(int size, Func<float, float, int, Vector3> pixel)
    {
        var pixels = new Vector3[size * size];
        Parallel.For(0, size, y =>
        {
            for (var x = 0; x < size; x++)
            {
                pixels[y * size + x] = pixel((float)x / size, (float)y / size, y * size + x);
            }
        });
        return pixels;
    }

    private static float[] Field(int size, Func<float, float, float> value)
    {
        var field = new float[size * size];
        Parallel.For(0, size, y =>
        {
            for (var x = 0; x < size; x++)
            {
                field[y * size + x] = value((float)x / size, (float)y / size);
            }
        });
        return field;
    }

    private static Vector3 Ramp(float t, (float At, Vector3 Colour)[] stops)
    {
        for (var i = 1; i < stops.Length; i++)
        {
            if (t <= stops[i].At)
            {
                return Vector3.Lerp(stops[i - 1].Colour, stops[i].Colour, (t - stops[i - 1].At) / (stops[i].At - stops[i - 1].At));
            }
        }

        return stops[^1].Colour;
    }

    private static float Smooth(float edge0, float edge1, float x)
    {
        var t = Math.Clamp((x - edge0) / (edge1 - edge0), 0, 1);
        return t * t * (3 - 2 * t);
    }

    private static Vector3 Hex(int rgb) => new Vector3((rgb >> 16) & 0xFF, (rgb >> 8) & 0xFF, rgb & 0xFF) / 255f;
}
