namespace OrleansDiffusion.Abstractions;

/// <summary>Progress after a completed step.</summary>
/// <param name="DenoiseSeconds">time inside denoisers so far (critical path).</param>
/// <param name="SyncSeconds">time in sync on the coordinator so far.</param>
/// <param name="Bytes">payload bytes moved between coordinator and tiles so far.</param>
[GenerateSerializer, Immutable, Alias("odiff.StepProgress")]
public sealed record StepProgress(
    [property: Id(0)] int Step,
    [property: Id(1)] int Steps,
    [property: Id(2)] int Tiles,
    [property: Id(3)] double ElapsedSeconds,
    [property: Id(4)] double DenoiseSeconds,
    [property: Id(5)] double SyncSeconds,
    [property: Id(6)] long Bytes = 0);

/// <summary>Timings and sizes of a finished job (the <c>--json</c> summary's numbers).</summary>
/// <param name="BytesPerStep">payload bytes moved between coordinator and tiles per step, both directions.</param>
/// <param name="ForwardCallsPerStep">denoiser forward passes per step (batches).</param>
/// <param name="BytesPerStepBound">the exchange's per-membership lower bound per step: every cell in more than one window,
/// once per window containing it × channels × 4 bytes × 2 directions, plus the context cells tiles read (0: nothing needs to move).</param>
/// <param name="BandBytesPerStep">bytes per band-only step (between full exchanges; 0 when every step moved whole windows).</param>
/// <param name="StepCallsPerStep">messages the coordinator sent per step to run the tiles' steps: one per worker silo once
/// the tiles are placed (the first step calls each tile), more when a step outlasts a call's wait or tiles are lost.</param>
/// <param name="DecodeSeconds">time turning the final canvas into pixels (the VAE decode of a latent canvas; 0 in pixel space).</param>
[GenerateSerializer, Immutable, Alias("odiff.JobStatistics")]
public sealed record JobStatistics(
    [property: Id(0)] int Tiles,
    [property: Id(1)] int Silos,
    [property: Id(2)] double Seconds,
    [property: Id(3)] double DenoiseSeconds,
    [property: Id(4)] double SyncSeconds,
    [property: Id(5)] long BytesPerStep,
    [property: Id(6)] double ForwardCallsPerStep,
    [property: Id(7)] long BytesPerStepBound = 0,
    [property: Id(8)] double DecodeSeconds = 0,
    [property: Id(9)] long BandBytesPerStep = 0,
    [property: Id(10)] double StepCallsPerStep = 0);
