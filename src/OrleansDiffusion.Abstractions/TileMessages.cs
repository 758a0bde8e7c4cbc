using Orleans.Runtime;

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
/// <param name="Bands">the step exchanges bands only (between checkpoints): the tile sends what its sync mode needs and
/// gets back its synced shared cells and context; false: whole windows travel.</param>
[GenerateSerializer, Immutable, Alias("odiff.StepCall")]
public readonly record struct StepCall([property: Id(0)] string JobId, [property: Id(1)] int Epoch, [property: Id(2)] int Step,
    [property: Id(3)] bool Bands = false);

/// <summary>What a tile sends after a band-only step: its values at the cells others need ([C, n]), for attention sync
/// its pooled tokens and per-channel statistics, and its preview thumbnail.</summary>
[GenerateSerializer, Immutable, Alias("odiff.BandUploadPayload")]
public sealed record BandUploadPayload([property: Id(0)] TensorPayload Bands, [property: Id(1)] TensorPayload? Pooled,
    [property: Id(2)] TensorPayload? Statistics, [property: Id(3)] TensorPayload Thumbnail)
{
    public long Bytes => Bands.Bytes + (Pooled?.Bytes ?? 0) + (Statistics?.Bytes ?? 0) + Thumbnail.Bytes;
}

/// <summary>What a tile gets back after a band-only step: its synced shared cells, the context cells it reads and its
/// tone correction (attention sync).</summary>
[GenerateSerializer, Immutable, Alias("odiff.BandReplyPayload")]
public sealed record BandReplyPayload([property: Id(0)] TensorPayload Shared, [property: Id(1)] TensorPayload Context,
    [property: Id(2)] TensorPayload? Tone)
{
    public long Bytes => Shared.Bytes + Context.Bytes + (Tone?.Bytes ?? 0);
}

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

    /// <summary>The run's restart count: a rollback re-creates every tile at an earlier step, and an assignment repeated
    /// with the same start, state and attempt is a retry (idempotent).</summary>
    [Id(13)] public int Attempt { get; init; }
}

/// <summary>The synced result of step <paramref name="Step"/> for one tile: its synced bands, from which it builds its
/// next state with its own proposal (after a full exchange too), or none: it keeps its own proposal.</summary>
[GenerateSerializer, Immutable, Alias("odiff.TileUpdate")]
public sealed record TileUpdate([property: Id(0)] int Step, [property: Id(1)] BandReplyPayload? Bands)
{
    public long Bytes => Bands?.Bytes ?? 0;
}

/// <summary>A tile's proposal for one step and what it cost: its whole window, or on a band-only step its bands.
/// <see cref="Host"/> is the silo the tile lives on (where its next step's call goes through <see cref="ITileHostGrain"/>).</summary>
[GenerateSerializer, Immutable, Alias("odiff.TileProposal")]
public sealed record TileProposal(
    [property: Id(0)] StepCall Call,
    [property: Id(1)] TensorPayload? Window,
    [property: Id(2)] double DenoiseSeconds,
    [property: Id(3)] int BatchSize,
    [property: Id(4)] string Silo,
    [property: Id(5)] string Device,
    [property: Id(6)] BandUploadPayload? Bands = null,
    [property: Id(7)] SiloAddress? Host = null)
{
    public long Bytes => (Window?.Bytes ?? 0) + (Bands?.Bytes ?? 0);
}

/// <summary>One tile's part of a <see cref="ITileHostGrain"/> call: its window index and the update its step call carries.</summary>
[GenerateSerializer, Immutable, Alias("odiff.TileCall")]
public sealed record TileCall([property: Id(0)] int Tile, [property: Id(1)] TileUpdate? Update);

/// <summary>What one tile's step call gave: its proposal; neither (still running: call again); or <see cref="Lost"/>, why
/// the tile is lost (its silo died or it has no state) and has to be re-created.</summary>
[GenerateSerializer, Immutable, Alias("odiff.TileStepOutcome")]
public sealed record TileStepOutcome([property: Id(0)] TileProposal? Proposal, [property: Id(1)] string? Lost = null);
