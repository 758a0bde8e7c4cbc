using System.Buffers.Binary;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Imaging;

/// <summary>Reads a [3, H, W] float image in bands of rows and quantizes rows to interleaved samples.
/// <see cref="PngWriter"/> and <see cref="SeamScore"/> both go through it, so the score of a tensor is the
/// score of the PNG written from it, and neither ever holds a full-size copy of the image. The rows of a
/// contiguous image are read in place from native memory; other layouts are copied one band at a time.</summary>
internal sealed class RgbBandReader : IDisposable
{
    private const int MaxRowsPerBand = 64;

    private readonly Tensor _image;
    private readonly Tensor?[] _planes = new Tensor?[3];

    public RgbBandReader(Tensor image)
    {
        (Height, Width) = Validate(image);
        _image = image;
    }

    public int Height { get; }

    public int Width { get; }

    /// <summary>The most rows one <see cref="Load"/> brings in.</summary>
    public int BandRows => MaxRowsPerBand;

    /// <summary>Checks the image contract shared by every consumer; returns (height, width).</summary>
    public static (int Height, int Width) Validate(Tensor image)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.dim() != 3 || image.shape[0] != 3)
        {
            throw new ArgumentException($"Expected an image tensor of shape [3, H, W], got [{string.Join(", ", image.shape)}].", nameof(image));
        }

        if (image.dtype != ScalarType.Float32)
        {
            throw new ArgumentException($"Expected a float32 image tensor, got {image.dtype}.", nameof(image));
        }

        if (image.device_type != DeviceType.CPU)
        {
            throw new ArgumentException($"Expected a CPU image tensor, got {image.device}; move it to the CPU first.", nameof(image));
        }

        if (image.shape[1] is < 1 or > int.MaxValue || image.shape[2] is < 1 or > int.MaxValue / 6)
        {
            throw new ArgumentException($"Image size {image.shape[2]}x{image.shape[1]} is out of range.", nameof(image));
        }

        return ((int)image.shape[1], (int)image.shape[2]);
    }

    /// <summary>Round half up of (v + 1) / 2 · 255 after clamping to [-1, 1]; NaN becomes -1 (black).</summary>
    public static byte To8(float value) => (byte)Quantize(value, 127.5f);

    /// <summary>Round half up of (v + 1) / 2 · 65535 after clamping to [-1, 1]; NaN becomes -1 (black).</summary>
    public static ushort To16(float value) => (ushort)Quantize(value, 32767.5f);

    /// <summary>Makes rows [firstRow, firstRow + n) the current band and returns n.</summary>
    public int Load(int firstRow)
    {
        var rows = Math.Min(BandRows, Height - firstRow);
        for (var c = 0; c < 3; c++)
        {
            _planes[c]?.Dispose();
            using var plane = _image.select(0, c);
            using var band = plane.narrow(0, firstRow, rows);
            _planes[c] = band.contiguous(); // A view of the same memory when the image is already contiguous.
        }

        return rows;
    }

    public void Dispose()
    {
        foreach (var plane in _planes)
        {
            plane?.Dispose();
        }
    }

    /// <summary>Writes row <paramref name="row"/> of the loaded band as RGB bytes.</summary>
    public void QuantizeRow8(int row, Span<byte> rgb)
    {
        for (var c = 0; c < 3; c++)
        {
            var plane = PlaneRow(c, row);
            for (var x = 0; x < plane.Length; x++)
            {
                rgb[3 * x + c] = To8(plane[x]);
            }
        }
    }

    /// <summary>Writes row <paramref name="row"/> of the loaded band as big-endian 16-bit RGB samples.</summary>
    public void QuantizeRow16(int row, Span<byte> rgb)
    {
        for (var c = 0; c < 3; c++)
        {
            var plane = PlaneRow(c, row);
            for (var x = 0; x < plane.Length; x++)
            {
                BinaryPrimitives.WriteUInt16BigEndian(rgb[(6 * x + 2 * c)..], To16(plane[x]));
            }
        }
    }

    private ReadOnlySpan<float> PlaneRow(int channel, int row) =>
        MemoryMarshal.Cast<byte, float>(_planes[channel]!.bytes).Slice(row * Width, Width);

    private static int Quantize(float value, float halfScale)
    {
        var clamped = value >= -1f ? Math.Min(value, 1f) : -1f;
        return (int)((clamped + 1f) * halfScale + 0.5f);
    }
}
