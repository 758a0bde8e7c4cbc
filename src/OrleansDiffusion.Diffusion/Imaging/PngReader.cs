using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;
using System.Text;

namespace OrleansDiffusion.Diffusion.Imaging;

/// <summary>A small, strict PNG reader for what <see cref="PngWriter"/> produces: header, text chunks, and
/// exact 8/16-bit RGB samples (all five row filters). Every chunk it reads is CRC-checked, which lets tests
/// verify the writer independently of lenient decoders. Malformed files raise <see cref="InvalidImageException"/>.</summary>
public static class PngReader
{
    /// <summary>The text stored under <paramref name="keyword"/> in a tEXt or iTXt chunk, or null.</summary>
    public static string? ReadText(string path, string keyword)
    {
        ArgumentNullException.ThrowIfNull(keyword);
        string? text = null;
        ReadChunks(path, type => type is "tEXt" or "iTXt", (type, data) =>
        {
            var keywordEnd = Array.IndexOf(data, (byte)0);
            if (keywordEnd < 0 || Encoding.Latin1.GetString(data, 0, keywordEnd) != keyword)
            {
                return true;
            }

            text = type == "tEXt" ? Encoding.Latin1.GetString(data, keywordEnd + 1, data.Length - keywordEnd - 1) : ReadInternationalText(path, data, keywordEnd);
            return false;
        });
        return text;
    }

    /// <summary>Width, height and bit depth from the IHDR chunk, which must come first.</summary>
    public static (int Width, int Height, int BitDepth) ReadHeader(string path)
    {
        var header = ReadImageHeader(path);
        return (header.Width, header.Height, header.BitDepth);
    }

    /// <summary>Decodes a non-interlaced 8- or 16-bit RGB PNG to interleaved samples (R, G, B per pixel, rows
    /// top to bottom) at the file's own depth: 0..255 for 8-bit files, 0..65535 for 16-bit files.</summary>
    public static ushort[] ReadRgb16(string path)
    {
        var header = ReadImageHeader(path);
        if (header.ColourType != PngFormat.ColourTypeRgb || header.BitDepth is not (8 or 16) || header.Interlace != 0)
        {
            throw new InvalidImageException(path, $"only non-interlaced 8/16-bit RGB is supported (colour type {header.ColourType}, depth {header.BitDepth}, interlace {header.Interlace})");
        }

        using var compressed = new MemoryStream();
        ReadChunks(path, type => type == "IDAT", (_, data) =>
        {
            compressed.Write(data);
            return true;
        });
        compressed.Position = 0;

        var bytesPerSample = header.BitDepth / 8;
        var bytesPerPixel = 3 * bytesPerSample;
        var rowBytes = checked(header.Width * bytesPerPixel);
        var samples = new ushort[checked((long)header.Width * header.Height * 3)];
        var row = new byte[rowBytes];
        var prior = new byte[rowBytes];
        try
        {
            using var zlib = new ZLibStream(compressed, CompressionMode.Decompress);
            for (var y = 0; y < header.Height; y++)
            {
                var filter = zlib.ReadByte();
                if (filter is < 0 or > (int)PngFilterType.Paeth)
                {
                    throw new InvalidImageException(path, filter < 0 ? "image data is truncated" : $"row {y} has unknown filter type {filter}");
                }

                zlib.ReadExactly(row);
                PngFilter.Undo((PngFilterType)filter, row, prior, bytesPerPixel);
                var destination = samples.AsSpan(y * header.Width * 3, header.Width * 3);
                for (var i = 0; i < destination.Length; i++)
                {
                    destination[i] = bytesPerSample == 2 ? BinaryPrimitives.ReadUInt16BigEndian(row.AsSpan(2 * i)) : row[i];
                }

                (row, prior) = (prior, row);
            }
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException)
        {
            throw new InvalidImageException(path, "image data is truncated or corrupt", e);
        }

        return samples;
    }

    private static string ReadInternationalText(string path, byte[] data, int keywordEnd)
    {
        // Layout after the keyword's NUL: compression flag, method, language tag\0, translated keyword\0, text.
        var position = keywordEnd + 3;
        var languageEnd = position <= data.Length ? Array.IndexOf(data, (byte)0, position) : -1;
        var translatedEnd = languageEnd < 0 ? -1 : Array.IndexOf(data, (byte)0, languageEnd + 1);
        if (translatedEnd < 0)
        {
            throw new InvalidImageException(path, "malformed iTXt chunk");
        }

        var text = data.AsSpan(translatedEnd + 1);
        if (data[keywordEnd + 1] == 0)
        {
            return Encoding.UTF8.GetString(text);
        }

        using var zlib = new ZLibStream(new MemoryStream(text.ToArray()), CompressionMode.Decompress);
        using var reader = new StreamReader(zlib, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    private static ImageHeader ReadImageHeader(string path)
    {
        byte[]? ihdr = null;
        ReadChunks(path, _ => true, (type, data) =>
        {
            if (type != "IHDR" || data.Length != 13)
            {
                throw new InvalidImageException(path, "the first chunk is not a valid IHDR");
            }

            ihdr = data;
            return false;
        });
        if (ihdr is null)
        {
            throw new InvalidImageException(path, "the file has no IHDR chunk");
        }

        return new ImageHeader(
            BinaryPrimitives.ReadInt32BigEndian(ihdr),
            BinaryPrimitives.ReadInt32BigEndian(ihdr.AsSpan(4)),
            ihdr[8],
            ihdr[9],
            ihdr[12]);
    }

    /// <summary>Walks the chunks in file order up to IEND, handing each wanted one (CRC-checked) to
    /// <paramref name="visit"/> until it returns false; unwanted chunks are skipped without reading.</summary>
    private static void ReadChunks(string path, Func<string, bool> wanted, Func<string, byte[], bool> visit)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InvalidImageException(path, "the file does not exist", e);
        }

        using (stream)
        {
            Span<byte> signature = stackalloc byte[8];
            if (stream.ReadAtLeast(signature, 8, throwOnEndOfStream: false) < 8 || !signature.SequenceEqual(PngFormat.Signature))
            {
                throw new InvalidImageException(path, "not a PNG file (bad signature)");
            }

            Span<byte> frame = stackalloc byte[8];
            Span<byte> crc = stackalloc byte[4];
            while (true)
            {
                if (stream.ReadAtLeast(frame, 8, throwOnEndOfStream: false) < 8)
                {
                    throw new InvalidImageException(path, "the file is truncated (no IEND chunk)");
                }

                var length = BinaryPrimitives.ReadUInt32BigEndian(frame);
                var type = Encoding.ASCII.GetString(frame[4..]);
                if (length > int.MaxValue || length + 4L > stream.Length - stream.Position)
                {
                    throw new InvalidImageException(path, $"chunk '{type}' runs past the end of the file");
                }

                if (!wanted(type))
                {
                    stream.Seek(length + 4L, SeekOrigin.Current);
                }
                else
                {
                    var data = new byte[length];
                    stream.ReadExactly(data);
                    stream.ReadExactly(crc);
                    var expected = new Crc32();
                    expected.Append(frame[4..]);
                    expected.Append(data);
                    if (expected.GetCurrentHashAsUInt32() != BinaryPrimitives.ReadUInt32BigEndian(crc))
                    {
                        throw new InvalidImageException(path, $"chunk '{type}' fails its CRC check");
                    }

                    if (!visit(type, data))
                    {
                        return;
                    }
                }

                if (type == "IEND")
                {
                    return;
                }
            }
        }
    }

    private readonly record struct ImageHeader(int Width, int Height, int BitDepth, int ColourType, int Interlace);
}
