using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Diffusion.Sync;

/// <summary>
/// For local denoisers: windows do not need to overlap; each tile keeps a halo of the receptive radius
/// read from the synced canvas, so every tile computes exactly what the untiled canvas would. Where
/// shifted edge windows do overlap, their values agree and the mean changes nothing (up to rounding).
/// </summary>
public sealed class HaloSync : ISyncMode
{
    public static HaloSync Instance { get; } = new();

    public SyncMode Mode => SyncMode.Halo;

    public int Context(int maxDenoiserHalo) => maxDenoiserHalo;

    public bool OverlapsWindows => false;

    public SyncResult Synchronize(SyncInput input) =>
        CanvasSync.Result(input, CanvasSync.Mean(input.Plan, input.Proposals, gaussian: false));
}
