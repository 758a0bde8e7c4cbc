using System.Buffers.Binary;
using System.IO.Compression;

namespace OrleansDiffusion.Api.DeepZoom;

/// <summary>
/// Reads a non-interlaced PNG (greyscale, grey+alpha, RGB or RGBA; 8 or 16 bits) one row at a time, holding only two
/// rows in memory: the IDAT chunks are inflated as a stream and each row is unfiltered against the previous one.
/// Rows come out with 8 bits per channel (16-bit samples keep their high byte).
/// </summary>
public sealed class PngRowReader : IDisposable
{
    private static readonly byte[] Signature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    private readonly Stream _file;
    private readonly ZLibStream _inflater;
    private readonly int _bytesPerPixel;
    private readonly int _bitDepth;
    private byte[] _row;
    private byte[] _previous;
    private int _rowsRead;

    public PngRowReader(Stream file)
    {
        ArgumentNullException.ThrowIfNull(file);
        _file = file;
        Span<byte> signature = stackalloc byte[8];
        file.ReadExactly(signature);
        if (!signature.SequenceEqual(Signature)) throw new InvalidDataException("not a PNG file");
        var (length, type) = ReadChunkHeader(file);
        if (type != "IHDR" || length != 13) throw new InvalidDataException("a PNG must start with IHDR");
        Span<byte> header = stackalloc byte[13];
        file.ReadExactly(header);
        Skip(file, 4);
        Width = BinaryPrimitives.ReadInt32BigEndian(header);
        Height = BinaryPrimitives.ReadInt32BigEndian(header[4..]);
        _bitDepth = header[8];
        Channels = header[9] switch
        {
            0 => 1,
            2 => 3,
            4 => 2,
            6 => 4,
            var other => throw new NotSupportedException($"PNG colour type {other} is not supported (greyscale, RGB and alpha variants are)"),
        };
        if (_bitDepth is not (8 or 16)) throw new NotSupportedException($"PNG bit depth {_bitDepth} is not supported (8 or 16)");
        if (header[12] != 0) throw new NotSupportedException("interlaced PNGs are not supported");
        if (Width <= 0 || Height <= 0) throw new InvalidDataException("the PNG has no pixels");
        _bytesPerPixel = Channels * _bitDepth / 8;
        _row = new byte[(long)Width * _bytesPerPixel + 1 > int.MaxValue ? throw new NotSupportedException("rows too wide") : Width * _bytesPerPixel];
        _previous = new byte[_row.Length];
        _inflater = new ZLibStream(new IdatChunks(file), CompressionMode.Decompress);
    }

    public int Width { get; }
    public int Height { get; }

    /// <summary>Samples per pixel: 1 (grey), 2 (grey, alpha), 3 (RGB) or 4 (RGBA).</summary>
    public int Channels { get; }

    /// <summary>Reads the next row into <paramref name="pixels"/> (<see cref="Width"/> × <see cref="Channels"/> bytes).</summary>
    public void ReadRow(Span<byte> pixels)
    {
        if (_rowsRead >= Height) throw new InvalidOperationException("all rows have been read");
        (_row, _previous) = (_previous, _row);
        Span<byte> filter = stackalloc byte[1];
        _inflater.ReadExactly(filter);
        _inflater.ReadExactly(_row);
        Unfilter(filter[0], _row, _previous, _bytesPerPixel);
        _rowsRead++;
        if (_bitDepth == 8)
        {
            _row.AsSpan(0, pixels.Length).CopyTo(pixels);
            return;
        }
        for (var i = 0; i < pixels.Length; i++) pixels[i] = _row[2 * i];
    }

    private static void Unfilter(byte filter, Span<byte> row, ReadOnlySpan<byte> above, int bpp)
    {
        switch (filter)
        {
            case 0:
                return;
            case 1:
                for (var i = bpp; i < row.Length; i++) row[i] += row[i - bpp];
                return;
            case 2:
                for (var i = 0; i < row.Length; i++) row[i] += above[i];
                return;
            case 3:
                for (var i = 0; i < row.Length; i++) row[i] += (byte)(((i >= bpp ? row[i - bpp] : 0) + above[i]) >> 1);
                return;
            case 4:
                for (var i = 0; i < row.Length; i++)
                {
                    int a = i >= bpp ? row[i - bpp] : 0, b = above[i], c = i >= bpp ? above[i - bpp] : 0;
                    int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
                    row[i] += (byte)(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
                }
                return;
            default:
                throw new InvalidDataException($"unknown PNG filter {filter}");
        }
    }

    internal static (int Length, string Type) ReadChunkHeader(Stream stream)
    {
        Span<byte> header = stackalloc byte[8];
        stream.ReadExactly(header);
        return (BinaryPrimitives.ReadInt32BigEndian(header), System.Text.Encoding.ASCII.GetString(header[4..]));
    }

    internal static void Skip(Stream stream, long count)
    {
        if (stream.CanSeek)
        {
            stream.Seek(count, SeekOrigin.Current);
            return;
        }
        Span<byte> scratch = stackalloc byte[4096];
        while (count > 0)
        {
            var read = stream.Read(scratch[..(int)Math.Min(count, scratch.Length)]);
            if (read == 0) throw new EndOfStreamException();
            count -= read;
        }
    }

    public void Dispose()
    {
        _inflater.Dispose();
        _file.Dispose();
    }

    /// <summary>The payloads of consecutive IDAT chunks as one stream (other chunks before the first are skipped).</summary>
    private sealed class IdatChunks(Stream file) : Stream
    {
        private int _left;
        private bool _ended;
        private bool _started;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            while (_left == 0)
            {
                if (_ended) return 0;
                if (_started) Skip(file, 4);
                var (length, type) = ReadChunkHeader(file);
                if (type == "IDAT")
                {
                    _started = true;
                    _left = length;
                }
                else if (_started || type == "IEND")
                {
                    _ended = true;
                    return 0;
                }
                else
                {
                    Skip(file, length + 4L);
                }
            }
            var read = file.Read(buffer[..Math.Min(buffer.Length, _left)]);
            if (read == 0) throw new EndOfStreamException("the PNG ends inside an IDAT chunk");
            _left -= read;
            return read;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
