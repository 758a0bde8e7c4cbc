using OrleansDiffusion.Diffusion.Denoisers;
using OrleansDiffusion.Diffusion.Noise;
using OrleansDiffusion.Diffusion.Schedulers;
using static TorchSharp.torch;
using OrleansDiffusion.Diffusion.Tiling;

namespace OrleansDiffusion.Diffusion.Engine;

/// <summary>All tiles in this process on one device, stepped in batches of up to <paramref name="batchSize"/>.</summary>
public sealed class InProcessTileRuntime(IDenoiser denoiser, IScheduler scheduler, int batchSize = 16) : ITileRuntime
{
    private readonly List<TileWorker> _tiles = [];
    private Tensor[] _proposals = [];
    private NoiseField? _noise;

    public Task StartAsync(JobPlan plan, EngineStart? start, CancellationToken cancellationToken)
    {
        _noise = new NoiseField(plan.Spec.Seed);
        foreach (var window in plan.Layout.Windows)
            _tiles.Add(start is null
                ? new TileWorker(plan, window, _noise, scheduler)
                : new TileWorker(plan, window, start.States.For(plan, window.Index)));
        return Task.CompletedTask;
    }

    public Task<TileStepResult> DenoiseAsync(int step, CancellationToken cancellationToken)
    {
        var noise = _noise ?? throw new InvalidOperationException("StartAsync was not called");
        var proposals = new List<Tensor>(_tiles.Count);
        double seconds = 0;
        var calls = 0;
        foreach (var batch in _tiles.Chunk(batchSize))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var result = TileStepper.Step(batch, denoiser, scheduler, noise, step);
            proposals.AddRange(result.Proposals);
            seconds += result.DenoiseSeconds;
            calls++;
        }
        _proposals = [.. proposals];
        return Task.FromResult(new TileStepResult(_proposals, seconds, calls, Bytes(_proposals)));
    }

    public Task<long> ScatterAsync(int step, IReadOnlyList<Tensor?> updates, CancellationToken cancellationToken)
    {
        for (var i = 0; i < _tiles.Count; i++)
        {
            var update = updates[i];
            if (update is null)
            {
                _tiles[i].Adopt(_proposals[i]);
            }
            else
            {
                _proposals[i].Dispose();
                _tiles[i].Adopt(update);
            }
        }
        _proposals = [];
        return Task.FromResult(Bytes(updates));
    }

    internal static long Bytes(IEnumerable<Tensor?> tensors) => tensors.Sum(t => t is null ? 0 : t.NumberOfElements * t.ElementSize);

    public ValueTask DisposeAsync()
    {
        foreach (var proposal in _proposals) proposal.Dispose();
        foreach (var tile in _tiles) tile.Dispose();
        _tiles.Clear();
        return ValueTask.CompletedTask;
    }
}
