using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Xml.Linq;
using OrleansDiffusion.Api.DeepZoom;
using StbImageSharp;
using Xunit.Abstractions;

namespace OrleansDiffusion.Api.Tests;

[Collection(ApiCollection.Name)]
public class DeepZoomTests(ApiFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task Dzi_tiles_tile_the_image_exactly_at_every_level()
    {
        var spec = new Dictionary<string, object>
        {
            ["prompt"] = "bricks", ["width"] = 200, ["height"] = 136, ["tile"] = 64, ["overlap"] = 16, ["sync"] = "average", ["steps"] = 2,
        };
        using var submitted = await fixture.Http.PostAsync("v1/jobs", System.Net.Http.Json.JsonContent.Create(spec));
        var id = (await ApiFixture.JsonAsync(submitted)).GetProperty("job_id").GetString()!;
        await fixture.WaitAsync(id);
        var png = await fixture.Http.GetByteArrayAsync($"v1/jobs/{id}/image");
        var image = ImageResult.FromMemory(png, ColorComponents.RedGreenBlue);

        var xml = XDocument.Parse(await fixture.Http.GetStringAsync($"v1/jobs/{id}/dzi"));
        XNamespace ns = "http://schemas.microsoft.com/deepzoom/2008";
        var root = xml.Root!;
        Assert.Equal(ns + "Image", root.Name);
        var tileSize = (int)root.Attribute("TileSize")!;
        Assert.Equal(ApiFixture.DeepZoomTileSize, tileSize);
        Assert.Equal("0", (string)root.Attribute("Overlap")!);
        Assert.Equal(200, (int)root.Element(ns + "Size")!.Attribute("Width")!);
        Assert.Equal(136, (int)root.Element(ns + "Size")!.Attribute("Height")!);

        var maxLevel = DeepZoomPyramid.MaxLevel(200, 136);
        Assert.Equal(8, maxLevel);
        // The full-resolution level: the tiles, decoded and placed, are the image pixel for pixel.
        var top = await AssembleAsync(id, maxLevel, 200, 136, tileSize);
        Assert.Equal(image.Data, top);
        // Each smaller level tiles its ceil-halved size exactly, down to 1×1.
        for (var level = maxLevel - 1; level >= 0; level--)
        {
            var scale = 1 << (maxLevel - level);
            await AssembleAsync(id, level, (200 + scale - 1) / scale, (136 + scale - 1) / scale, tileSize);
        }
        using var missing = await fixture.Http.GetAsync($"v1/jobs/{id}/dzi_files/{maxLevel}/9_9.png");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    private async Task<byte[]> AssembleAsync(string id, int level, int width, int height, int tileSize)
    {
        var canvas = new byte[width * height * 3];
        for (var row = 0; row * tileSize < height; row++)
            for (var column = 0; column * tileSize < width; column++)
            {
                var bytes = await fixture.Http.GetByteArrayAsync($"v1/jobs/{id}/dzi_files/{level}/{column}_{row}.png");
                var tile = ImageResult.FromMemory(bytes, ColorComponents.RedGreenBlue);
                Assert.Equal(Math.Min(tileSize, width - column * tileSize), tile.Width);
                Assert.Equal(Math.Min(tileSize, height - row * tileSize), tile.Height);
                for (var y = 0; y < tile.Height; y++)
                    tile.Data.AsSpan(y * tile.Width * 3, tile.Width * 3).CopyTo(canvas.AsSpan(((row * tileSize + y) * width + column * tileSize) * 3));
            }
        return canvas;
    }

    /// <summary>The pyramid of a tall synthetic PNG (ODIFF_DZI_SIZE=WxH, default 1024x8192) is built with memory
    /// bounded by a few bands, far below the decoded image.</summary>
    [Fact]
    public async Task Pyramid_of_a_large_png_is_built_with_bounded_memory()
    {
        var size = (Environment.GetEnvironmentVariable("ODIFF_DZI_SIZE") ?? "1024x8192").Split('x').Select(int.Parse).ToArray();
        var (width, height) = (size[0], size[1]);
        var directory = Path.Combine(fixture.Root, $"dzi-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        var png = Path.Combine(directory, "big.png");
        SyntheticPng.Write(png, width, height);

        GC.Collect();
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        long peak = 0;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                peak = Math.Max(peak, GC.GetTotalMemory(false) - baseline);
                await Task.Delay(5);
            }
        });
        var clock = Stopwatch.StartNew();
        var levels = DeepZoomPyramid.Build(png, Path.Combine(directory, "dzi"), 256);
        clock.Stop();
        stop.Cancel();
        await sampler;
        var raw = (long)width * height * 3;
        var line = $"DZI {width}x{height}: {levels} levels in {clock.ElapsedMilliseconds} ms, peak managed heap growth {peak / 1048576.0:F1} MiB (decoded image {raw / 1048576.0:F0} MiB), process peak working set {Process.GetCurrentProcess().PeakWorkingSet64 / 1048576} MiB";
        output.WriteLine(line);
        await File.AppendAllTextAsync(Artifacts.File("measurements.txt"), line + "\n");

        Assert.Equal(DeepZoomPyramid.MaxLevel(width, height) + 1, levels);
        // Bands of 256 rows at every level and the allocations of zlib: far below the decoded image.
        Assert.True(peak < Math.Max(48L << 20, raw / 4), $"peak {peak} bytes for a {raw}-byte image");
        var corner = ImageResult.FromMemory(File.ReadAllBytes(Path.Combine(directory, "dzi", "image_files", (levels - 1).ToString(), "3_31.png")), ColorComponents.RedGreenBlue);
        var expected = SyntheticPng.Pixel(3 * 256 + 5, 31 * 256 + 7);
        Assert.Equal(expected, corner.Data.AsSpan((7 * corner.Width + 5) * 3, 3).ToArray());
        Directory.Delete(directory, recursive: true);
    }
}

/// <summary>A large RGB PNG written row by row (filter 0) without holding the image.</summary>
internal static class SyntheticPng
{
    public static byte[] Pixel(int x, int y) => [(byte)(x * 7 + y), (byte)(y * 3), (byte)((x ^ y) & 0xFF)];

    public static void Write(string path, int width, int height)
    {
        using var file = File.Create(path);
        using var idat = new MemoryStream();
        file.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header, width);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8;
        header[9] = 2;
        Chunk(file, "IHDR", header);
        var row = new byte[width * 3 + 1];
        using var buffer = new MemoryStream();
        using (var zlib = new ZLibStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        {
            for (var y = 0; y < height; y++)
            {
                for (var x = 0; x < width; x++) Pixel(x, y).CopyTo(row, 1 + x * 3);
                zlib.Write(row);
                // Flush compressed data as IDAT chunks of at most 1 MiB so the writer stays small too.
                if (buffer.Length > 1 << 20)
                {
                    Chunk(file, "IDAT", buffer.ToArray());
                    buffer.SetLength(0);
                }
            }
        }
        Chunk(file, "IDAT", buffer.ToArray());
        Chunk(file, "IEND", []);
    }

    private static void Chunk(Stream file, string type, byte[] data)
    {
        var number = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(number, data.Length);
        file.Write(number);
        var typeBytes = System.Text.Encoding.ASCII.GetBytes(type);
        file.Write(typeBytes);
        file.Write(data);
        var crc = new System.IO.Hashing.Crc32();
        crc.Append(typeBytes);
        crc.Append(data);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(number, crc.GetCurrentHashAsUInt32());
        file.Write(number);
    }
}
