using System.Buffers.Binary;
using System.IO.Hashing;
using Microsoft.Extensions.Options;
using OrleansDiffusion.Diffusion.Engine;
using OrleansDiffusion.Diffusion.Imaging;
using static TorchSharp.torch;

namespace OrleansDiffusion.Grains;

/// <summary>
/// Job checkpoints on disk: after a step, every tile's synced state, the step and the epoch, in one file written
/// atomically (<see cref="AtomicFile"/>) with an XxHash64 of its contents at the end. A job keeps only its
/// newest checkpoint; all of them go when it finishes. Layout: <c>&lt;dir&gt;/&lt;jobId&gt;/step-NNNNNN.ckpt</c>.
/// </summary>
public sealed class CheckpointStore(IOptions<OutputStoreOptions> options)
{
    private const uint Magic = 0x4B434F44; // "DOCK" little-endian
    private const int Version = 1;

    public string Directory { get; } = Path.GetFullPath(options.Value.CheckpointDirectory
        ?? Path.Combine(options.Value.Directory, ".checkpoints"));

    /// <summary>Writes the checkpoint (atomically) and prunes the job's older ones; returns the bytes written. Synchronous
    /// file and tensor work: call it off a grain scheduler.</summary>
    public long Write(string jobId, int step, int epoch, TileStates states)
    {
        var folder = JobFolder(jobId);
        var path = Path.Combine(folder, $"step-{step:D6}.ckpt");
        var tensors = states.Canvas is { } canvas ? [canvas] : states.Tiles!.ToArray();
        var bytes = AtomicFile.Write(path, file =>
        {
            var hash = new XxHash64();
            var header = new byte[24];
            BinaryPrimitives.WriteUInt32LittleEndian(header, Magic);
            BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(4), Version);
            BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), step);
            BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(12), epoch);
            BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(16), states.Canvas is null ? 1 : 0);
            BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(20), tensors.Length);
            WriteHashed(file, hash, header);
            foreach (var tensor in tensors)
            {
                var shape = new byte[4 + 8 * tensor.shape.Length];
                BinaryPrimitives.WriteInt32LittleEndian(shape, tensor.shape.Length);
                for (var d = 0; d < tensor.shape.Length; d++) BinaryPrimitives.WriteInt64LittleEndian(shape.AsSpan(4 + 8 * d), tensor.shape[d]);
                WriteHashed(file, hash, shape);
                WriteHashed(file, hash, Bytes(tensor));
            }
            var digest = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(digest, hash.GetCurrentHashAsUInt64());
            file.Write(digest);
        });
        foreach (var older in System.IO.Directory.EnumerateFiles(folder, "step-*.ckpt"))
            if (string.CompareOrdinal(Path.GetFileName(older), Path.GetFileName(path)) < 0) File.Delete(older);
        return bytes;
    }

    /// <summary>The job's newest checkpoint that is intact and holds <paramref name="step"/> steps, or null.</summary>
    public async Task<EngineStart?> ReadAsync(string jobId, int step, CancellationToken cancellationToken)
    {
        var path = Path.Combine(JobFolder(jobId), $"step-{step:D6}.ckpt");
        if (!File.Exists(path)) return null;
        var data = await File.ReadAllBytesAsync(path, cancellationToken);
        if (data.Length < 32 || XxHash64.HashToUInt64(data.AsSpan(0, data.Length - 8)) != BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan(data.Length - 8)))
            throw new InvalidDataException($"checkpoint {path} is damaged (checksum mismatch)");
        var span = data.AsSpan();
        if (BinaryPrimitives.ReadUInt32LittleEndian(span) != Magic || BinaryPrimitives.ReadInt32LittleEndian(span[4..]) != Version)
            throw new InvalidDataException($"checkpoint {path} has an unknown format");
        if (BinaryPrimitives.ReadInt32LittleEndian(span[8..]) != step) throw new InvalidDataException($"checkpoint {path} holds another step");
        var perTile = BinaryPrimitives.ReadInt32LittleEndian(span[16..]) == 1;
        var count = BinaryPrimitives.ReadInt32LittleEndian(span[20..]);
        var offset = 24;
        var tensors = new Tensor[count];
        for (var i = 0; i < count; i++)
        {
            var rank = BinaryPrimitives.ReadInt32LittleEndian(span[offset..]);
            var shape = new long[rank];
            for (var d = 0; d < rank; d++) shape[d] = BinaryPrimitives.ReadInt64LittleEndian(span[(offset + 4 + 8 * d)..]);
            offset += 4 + 8 * rank;
            var length = checked((int)(shape.Aggregate(1L, (a, b) => a * b) * sizeof(float)));
            tensors[i] = empty(shape, ScalarType.Float32);
            tensors[i].bytes = span.Slice(offset, length);
            offset += length;
        }
        var states = perTile ? TileStates.FromTiles(tensors) : TileStates.FromCanvas(tensors[0]);
        return new EngineStart(step, states);
    }

    /// <summary>Removes all of the job's checkpoints.</summary>
    public void Delete(string jobId)
    {
        var folder = JobFolder(jobId);
        if (System.IO.Directory.Exists(folder)) System.IO.Directory.Delete(folder, recursive: true);
    }

    private string JobFolder(string jobId) => OutputStore.Inside(Directory, OutputStore.CheckedId(jobId));

    private static byte[] Bytes(Tensor tensor)
    {
        // Each temporary held until the next native call returns: TorchSharp frees a collected one on the finalizer thread.
        using var floats = tensor.to(ScalarType.Float32, CPU);
        using var dense = floats.contiguous();
        return dense.bytes.ToArray();
    }

    private static void WriteHashed(Stream stream, XxHash64 hash, byte[] data)
    {
        hash.Append(data);
        stream.Write(data);
    }
}
