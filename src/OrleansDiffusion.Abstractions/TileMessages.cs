namespace OrleansDiffusion.Abstractions;

/// <summary>A dense float32 array with its shape: how latents travel (never as a TorchSharp tensor). The samples
/// travel as raw little-endian bytes because Orleans copies a byte[] in bulk but encodes a float[] element by element.</summary>
[GenerateSerializer, Immutable, Alias("odiff.TensorPayload")]
public sealed record TensorPayload([property: Id(0)] int[] Shape, [property: Id(1)] byte[] Data)
{
    public long Bytes => Data.LongLength;
}

/// <summary>Identifies one step of one run of a job; a retried call with the same values is idempotent, and
/// replies or calls for another epoch (a restarted run) are stale.</summary>
[GenerateSerializer, Immutable, Alias("odiff.StepCall")]
public readonly record struct StepCall([property: Id(0)] string JobId, [property: Id(1)] int Epoch, [property: Id(2)] int Step);

/// <summary>Everything a tile grain needs to create its state and run its steps.</summary>
[GenerateSerializer, Immutable, Alias("odiff.TileAssignment")]
public sealed record TileAssignment
{
    [Id(0)] public required string JobId { get; init; }
    [Id(1)] public int Epoch { get; init; }
    [Id(2)] public required JobSpec Spec { get; init; }
    [Id(3)] public TileWindow Window { get; init; }
    [Id(4)] public int CanvasWidth { get; init; }
    [Id(5)] public int CanvasHeight { get; init; }
    [Id(6)] public int TileWidth { get; init; }
    [Id(7)] public int TileHeight { get; init; }
    [Id(8)] public int Context { get; init; }
    [Id(9)] public int Channels { get; init; }

    /// <summary>Tiles of this job in total (the device executor batches up to this many).</summary>
    [Id(10)] public int TileCount { get; init; }

    /// <summary>The first step this tile runs: 0, or the step after a checkpoint or a recovery.</summary>
    [Id(11)] public int StartStep { get; init; }

    /// <summary>The tile's state (window plus context) before <see cref="StartStep"/>; null: from the noise field (step 0 only).</summary>
    [Id(12)] public TensorPayload? State { get; init; }
}

/// <summary>A tile's proposal for one step and what it cost.</summary>
[GenerateSerializer, Immutable, Alias("odiff.TileProposal")]
public sealed record TileProposal(
    [property: Id(0)] StepCall Call,
    [property: Id(1)] TensorPayload Window,
    [property: Id(2)] double DenoiseSeconds,
    [property: Id(3)] int BatchSize,
    [property: Id(4)] string Silo,
    [property: Id(5)] string Device);
