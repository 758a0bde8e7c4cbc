namespace OrleansDiffusion.Abstractions;

/// <summary>Progress after a completed step.</summary>
/// <param name="DenoiseSeconds">time inside denoisers so far (critical path).</param>
/// <param name="SyncSeconds">time in sync on the coordinator so far.</param>
public sealed record StepProgress(int Step, int Steps, int Tiles, double ElapsedSeconds, double DenoiseSeconds, double SyncSeconds);

/// <summary>Timings and sizes of a finished job (the <c>--json</c> summary's numbers).</summary>
/// <param name="BytesPerStep">payload bytes moved between coordinator and tiles per step, both directions.</param>
/// <param name="ForwardCallsPerStep">denoiser forward passes per step (batches).</param>
public sealed record JobStatistics(
    int Tiles,
    int Silos,
    double Seconds,
    double DenoiseSeconds,
    double SyncSeconds,
    long BytesPerStep,
    double ForwardCallsPerStep);
