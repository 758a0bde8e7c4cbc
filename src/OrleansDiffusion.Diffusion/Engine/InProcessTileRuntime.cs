using OrleansDiffusion.Diffusion.Denoisers;
using OrleansDiffusion.Diffusion.Exchange;
using OrleansDiffusion.Diffusion.Noise;
using OrleansDiffusion.Diffusion.Schedulers;
using static TorchSharp.torch;
using OrleansDiffusion.Diffusion.Tiling;

namespace OrleansDiffusion.Diffusion.Engine;

/// <summary>All tiles in this process on one device, stepped in batches of up to <paramref name="batchSize"/>.</summary>
/// <param name="bandExchange">the plan's band exchange, for band-only steps (the engine's schedule); null: whole windows only.</param>
public sealed class InProcessTileRuntime(IDenoiser denoiser, IScheduler scheduler, int batchSize = 16, BandExchange? bandExchange = null) : ITileRuntime
{
    private readonly List<TileWorker> _tiles = [];
    private Tensor[] _proposals = [];
    private BandUpload[] _uploads = [];
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

    public Task<TileStepResult> DenoiseAsync(int step, bool bands, CancellationToken cancellationToken)
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
        if (!bands) return Task.FromResult(new TileStepResult(_proposals, seconds, calls, Bytes(_proposals)));
        var exchange = Exchange;
        _uploads = _proposals.Select((p, i) => exchange.Upload(i, p)).ToArray();
        var uploaded = _uploads.Sum(u => u.Bytes);
        return Task.FromResult(new TileStepResult([], seconds, calls, uploaded, _uploads));
    }

    public Task<long> ScatterBandsAsync(int step, IReadOnlyList<BandReply> replies, CancellationToken cancellationToken)
    {
        var exchange = Exchange;
        long sent = 0;
        foreach (var reply in replies)
        {
            sent += reply.Bytes;
            _tiles[reply.Tile].Adopt(exchange.Apply(reply.Tile, _proposals[reply.Tile], reply));
        }
        DisposeStep();
        return Task.FromResult(sent);
    }

    public Task<(Tensor Canvas, long Bytes)> GatherAsync(int step, IReadOnlyList<BandReply> replies, CancellationToken cancellationToken)
    {
        var exchange = Exchange;
        var layout = exchange.Plan.Layout;
        var canvas = zeros(exchange.Plan.Channels, layout.CanvasHeight, layout.CanvasWidth);
        long moved = 0;
        foreach (var reply in replies)
        {
            using var state = exchange.Apply(reply.Tile, _proposals[reply.Tile], reply);
            using var part = exchange.OwnedPart(reply.Tile, state);
            exchange.Place(canvas, reply.Tile, part);
            moved += reply.Bytes + Bytes([part]);
        }
        DisposeStep();
        return Task.FromResult((canvas, moved));
    }

    private BandExchange Exchange => bandExchange ?? throw new InvalidOperationException("this runtime was built without a band exchange");

    private void DisposeStep()
    {
        foreach (var proposal in _proposals) proposal.Dispose();
        (_proposals, _uploads) = ([], []);
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
        DisposeStep();
        foreach (var tile in _tiles) tile.Dispose();
        _tiles.Clear();
        return ValueTask.CompletedTask;
    }
}
