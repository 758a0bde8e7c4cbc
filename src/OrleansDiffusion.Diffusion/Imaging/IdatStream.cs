namespace OrleansDiffusion.Diffusion.Imaging;

/// <summary>A write-only stream that frames the zlib output into IDAT chunks of bounded size, so a
/// gigapixel image never needs its compressed data held in memory before the chunk length is known.</summary>
internal sealed class IdatStream : Stream
{
    private const int ChunkBytes = 256 * 1024;

    private readonly Stream _png;
    private readonly byte[] _buffer = new byte[ChunkBytes];
    private int _count;

    public IdatStream(Stream png) => _png = png;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var take = Math.Min(buffer.Length, ChunkBytes - _count);
            buffer[..take].CopyTo(_buffer.AsSpan(_count));
            _count += take;
            buffer = buffer[take..];
            if (_count == ChunkBytes)
            {
                Flush();
            }
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    /// <summary>Emits whatever is buffered as one IDAT chunk; the writer calls it once after the zlib stream closes.</summary>
    public override void Flush()
    {
        if (_count > 0)
        {
            PngFormat.WriteChunk(_png, "IDAT"u8, _buffer.AsSpan(0, _count));
            _count = 0;
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
