using Orleans.Concurrency;

namespace OrleansDiffusion.Abstractions;

/// <summary>One decode tile of a finished latent canvas: its crop (window plus halo) and where its window lies in it.</summary>
[GenerateSerializer, Immutable, Alias("odiff.DecodeAssignment")]
public sealed record DecodeAssignment
{
    [Id(0)] public required string JobId { get; init; }
    [Id(1)] public int Epoch { get; init; }
    [Id(2)] public required JobSpec Spec { get; init; }

    /// <summary>The scaled latent [C, h, w] of the window plus its halo.</summary>
    [Id(3)] public required TensorPayload Crop { get; init; }

    [Id(4)] public int CoreTop { get; init; }
    [Id(5)] public int CoreLeft { get; init; }
    [Id(6)] public int CoreHeight { get; init; }
    [Id(7)] public int CoreWidth { get; init; }

    /// <summary>The canvas fits one window: decode it whole (as the in-process decoder does), no statistics exchanged.</summary>
    [Id(8)] public bool Whole { get; init; }
}

/// <summary>A decode tile's partial GroupNorm sums at one norm (per group: sum, sum of squares; cells counted).</summary>
[GenerateSerializer, Immutable, Alias("odiff.DecodeStatistics")]
public sealed record DecodeStatistics([property: Id(0)] int Norm, [property: Id(1)] double[] Sums, [property: Id(2)] double[] SquareSums, [property: Id(3)] long Count);

/// <summary>Where a decode tile stands: its sums at the requested norm, or (null) complete, with its pixels kept for
/// <see cref="IDecodeTileGrain.ReadPixelsAsync"/>.</summary>
[GenerateSerializer, Immutable, Alias("odiff.DecodeProgress")]
public sealed record DecodeProgress([property: Id(0)] DecodeStatistics? Statistics)
{
    public bool IsComplete => Statistics is null;
}

/// <summary>One tile of a distributed VAE decode on an accelerator silo (key "{jobId}/{epoch}/decode{attempt}/{index}").
/// The tiles advance from GroupNorm to GroupNorm; the coordinator sums their statistics and sends the sum back.</summary>
[Alias("odiff.IDecodeTileGrain"), ClusterInternal]
public interface IDecodeTileGrain : IGrainWithStringKey
{
    /// <summary>Takes the crop and starts the decode on the silo's device (the model comes from the device's cache).</summary>
    [Alias("Start")]
    Task StartAsync(DecodeAssignment assignment);

    /// <summary>Brings the decode to norm <paramref name="norm"/>, applying <paramref name="pooled"/> (the sums of norm
    /// − 1 over all tiles) first; waits at most <paramref name="wait"/> (null: still running, call again). Idempotent.</summary>
    [Alias("Advance")]
    Task<DecodeProgress?> AdvanceAsync(int norm, DecodeStatistics? pooled, TimeSpan wait);

    /// <summary>The complete tile's pixels ([3, h, w] in the decoder's range). The coordinator reads them a few tiles at a
    /// time, so it never holds more than the image and a few tiles.</summary>
    [Alias("ReadPixels")]
    Task<TensorPayload> ReadPixelsAsync();

    [Alias("Release")]
    Task ReleaseAsync();
}
