using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;

namespace OrleansDiffusion.Api.DeepZoom;

/// <summary>Writes small 8-bit PNGs (Deep Zoom tiles): one IDAT chunk, Sub filter on every row.</summary>
public static class PngEncoder
{
    private static readonly byte[] Signature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Writes a PNG of <paramref name="width"/> × <paramref name="height"/> pixels of <paramref name="channels"/> bytes to
    /// <paramref name="output"/>; <paramref name="pixels"/> holds its rows, <paramref name="stride"/> bytes apart.</summary>
    public static void Write(Stream output, ReadOnlySpan<byte> pixels, int width, int height, int channels, int stride)
    {
        ArgumentNullException.ThrowIfNull(output);
        output.Write(Signature);
        Span<byte> header = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header[4..], height);
        header[8] = 8;
        header[9] = channels switch { 1 => 0, 2 => 4, 3 => 2, 4 => 6, _ => throw new ArgumentOutOfRangeException(nameof(channels)) };
        header[10] = header[11] = header[12] = 0;
        WriteChunk(output, "IHDR"u8, header);

        var rowBytes = width * channels;
        using var compressed = new MemoryStream();
        using (var deflater = new ZLibStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            var filtered = new byte[rowBytes + 1];
            filtered[0] = 1;
            for (var y = 0; y < height; y++)
            {
                var row = pixels.Slice(y * stride, rowBytes);
                for (var i = 0; i < rowBytes; i++) filtered[i + 1] = (byte)(row[i] - (i >= channels ? row[i - channels] : 0));
                deflater.Write(filtered);
            }
        }
        WriteChunk(output, "IDAT"u8, compressed.GetBuffer().AsSpan(0, (int)compressed.Length));
        WriteChunk(output, "IEND"u8, []);
    }

    private static void WriteChunk(Stream output, ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        Span<byte> number = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(number, data.Length);
        output.Write(number);
        output.Write(type);
        output.Write(data);
        var crc = new Crc32();
        crc.Append(type);
        crc.Append(data);
        BinaryPrimitives.WriteUInt32BigEndian(number, crc.GetCurrentHashAsUInt32());
        output.Write(number);
    }
}
