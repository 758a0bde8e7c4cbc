using System.Buffers.Binary;
using System.IO.Hashing;

namespace OrleansDiffusion.Diffusion.Imaging;

/// <summary>The pieces of the PNG container format shared by <see cref="PngWriter"/>, <see cref="PngReader"/>
/// and tests: the signature, chunk framing and IHDR layout (PNG spec, sections 5 and 11.2.2).</summary>
internal static class PngFormat
{
    /// <summary>Colour type 2: RGB triples, the only layout this project writes.</summary>
    public const byte ColourTypeRgb = 2;

    public static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Writes one chunk: big-endian length, type, data, and the CRC-32 of type and data.</summary>
    public static void WriteChunk(Stream stream, ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        Span<byte> header = stackalloc byte[8];
        BinaryPrimitives.WriteInt32BigEndian(header, data.Length);
        type.CopyTo(header[4..]);
        stream.Write(header);
        stream.Write(data);

        var crc = new Crc32();
        crc.Append(type);
        crc.Append(data);
        Span<byte> trailer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(trailer, crc.GetCurrentHashAsUInt32());
        stream.Write(trailer);
    }

    /// <summary>The 13-byte IHDR payload (no compression/filter/interlace variants exist beyond method 0).</summary>
    public static byte[] Header(int width, int height, byte bitDepth, byte colourType, byte interlace = 0)
    {
        var data = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(data, width);
        BinaryPrimitives.WriteInt32BigEndian(data.AsSpan(4), height);
        data[8] = bitDepth;
        data[9] = colourType;
        data[12] = interlace;
        return data;
    }
}
