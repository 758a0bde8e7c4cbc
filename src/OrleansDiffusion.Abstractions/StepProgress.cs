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
[GenerateSerializer, Immutable, Alias("odiff.JobStatistics")]
public sealed record JobStatistics(
    [property: Id(0)] int Tiles,
    [property: Id(1)] int Silos,
    [property: Id(2)] double Seconds,
    [property: Id(3)] double DenoiseSeconds,
    [property: Id(4)] double SyncSeconds,
    [property: Id(5)] long BytesPerStep,
    [property: Id(6)] double ForwardCallsPerStep);
