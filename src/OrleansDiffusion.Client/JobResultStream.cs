using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Client;

/// <summary>A finished job's PNG, read forward in chunks from its coordinator as the caller reads.</summary>
internal sealed class JobResultStream(ICoordinatorGrain coordinator, int chunkBytes) : Stream
{
    private byte[] _chunk = [];
    private int _chunkOffset;
    private long _nextOffset;
    private bool _ended;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => _nextOffset - (_chunk.Length - _chunkOffset);
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty) return 0;
        if (_chunkOffset == _chunk.Length)
        {
            if (_ended) return 0;
            _chunk = await coordinator.ReadOutputAsync(_nextOffset, chunkBytes).WaitAsync(cancellationToken);
            _chunkOffset = 0;
            _nextOffset += _chunk.Length;
            if (_chunk.Length == 0)
            {
                _ended = true;
                return 0;
            }
        }
        var count = Math.Min(buffer.Length, _chunk.Length - _chunkOffset);
        _chunk.AsMemory(_chunkOffset, count).CopyTo(buffer);
        _chunkOffset += count;
        return count;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
