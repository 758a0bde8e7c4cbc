using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Engine;
using static TorchSharp.torch;
using OrleansDiffusion.Diffusion.Tiling;

namespace OrleansDiffusion.Grains;

/// <summary>
/// The engine's tiles as tile grains on accelerator silos: every step calls all tiles in parallel and
/// gathers their proposals; scatter sends each tile its synced window. Calls carry (job, epoch, step).
/// </summary>
internal sealed class GrainTileRuntime(IGrainFactory grains, string jobId, int epoch) : ITileRuntime
{
    private ITileGrain[] _tiles = [];
    private Tensor[] _proposals = [];

    /// <summary>Distinct "silo/device" locations the tiles landed on.</summary>
    public IReadOnlyList<string> Locations { get; private set; } = [];

    public int Silos => Locations.Select(l => l[..l.LastIndexOf('/')]).Distinct().Count();

    public async Task StartAsync(JobPlan plan, EngineStart? start, CancellationToken cancellationToken)
    {
        // A silo that just joined may not yet know of the accelerator silos (no tile grain implementation, or none
        // to place on); initialisation is idempotent, so retry for a while before failing the job.
        var deadline = DateTime.UtcNow + PlacementPatience;
        while (true)
        {
            try
            {
                _tiles = plan.Layout.Windows.Select(w => grains.GetGrain<ITileGrain>($"{jobId}/{epoch}/{w.Index}")).ToArray();
                Locations = await InitializeTilesAsync(plan);
                return;
            }
            catch (Exception e) when (e is OrleansException or ArgumentException && DateTime.UtcNow < deadline)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }
        }
    }

    /// <summary>How long a job waits for accelerator silos to appear before it fails.</summary>
    public static TimeSpan PlacementPatience { get; } = TimeSpan.FromSeconds(30);

    private async Task<string[]> InitializeTilesAsync(JobPlan plan)
    {
        var layout = plan.Layout;
        return await Task.WhenAll(layout.Windows.Select(w => _tiles[w.Index].InitializeAsync(new TileAssignment
        {
            JobId = jobId,
            Epoch = epoch,
            Spec = plan.Spec,
            Window = w,
            CanvasWidth = layout.CanvasWidth,
            CanvasHeight = layout.CanvasHeight,
            TileWidth = layout.TileWidth,
            TileHeight = layout.TileHeight,
            Context = plan.Context,
            Channels = plan.Channels,
            TileCount = layout.Count,
        })));
    }

    public async Task<TileStepResult> DenoiseAsync(int step, CancellationToken cancellationToken)
    {
        var call = new StepCall(jobId, epoch, step);
        var replies = await Task.WhenAll(_tiles.Select(t => t.DenoiseAsync(call)));
        if (replies.Any(r => r.Call != call)) throw new InvalidOperationException($"stale tile reply for step {step}");
        DisposeProposals();
        _proposals = replies.Select(r => TensorPayloads.ToTensor(r.Window)).ToArray();
        // Tiles in one batch share a forward pass: the critical path is the slowest device's pass,
        // and the number of passes is Σ 1/batch size.
        var seconds = replies.GroupBy(r => (r.Silo, r.Device)).Max(g => g.Sum(r => r.DenoiseSeconds / r.BatchSize));
        var forwardCalls = (int)Math.Round(replies.Sum(r => 1.0 / r.BatchSize));
        return new TileStepResult(_proposals, seconds, forwardCalls, replies.Sum(r => r.Window.Bytes));
    }

    public async Task<long> ScatterAsync(int step, IReadOnlyList<Tensor?> updates, CancellationToken cancellationToken)
    {
        var call = new StepCall(jobId, epoch, step);
        var payloads = updates.Select(u => u is null ? null : TensorPayloads.ToPayload(u)).ToArray();
        foreach (var update in updates) update?.Dispose();
        await Task.WhenAll(_tiles.Select((t, i) => t.ApplyAsync(call, payloads[i])));
        return payloads.Sum(p => p?.Bytes ?? 0);
    }

    private void DisposeProposals()
    {
        foreach (var proposal in _proposals) proposal.Dispose();
        _proposals = [];
    }

    public async ValueTask DisposeAsync()
    {
        DisposeProposals();
        await Task.WhenAll(_tiles.Select(t => t.ReleaseAsync()));
    }
}
