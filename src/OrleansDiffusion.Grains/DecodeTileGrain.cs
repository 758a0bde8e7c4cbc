using Microsoft.Extensions.Options;
using Orleans.Placement;
using Orleans.Runtime;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Exchange;
using OrleansDiffusion.Diffusion.StableDiffusion;
using static TorchSharp.torch;

namespace OrleansDiffusion.Grains;

/// <summary>
/// One tile of a distributed VAE decode, on an accelerator silo: a <see cref="VaeDecodeSession"/> over its crop, with
/// the VAE leased from the device's model cache (the same load the job's denoising used). Device work runs on the
/// device's executor thread; each call waits a bounded time, like tile steps. After every stage the session reports to
/// the device's <see cref="DecodeMemoryBudget"/>, which parks it when the device's decode tiles together would hold more
/// than the budget (the pooled statistics, and so the pixels, do not change).
/// </summary>
[AcceleratorPlacement]
[Immovable]
[CollectionAgeLimit(Minutes = 5)]
public sealed class DecodeTileGrain(DeviceExecutorPool devices, IOptions<OutputStoreOptions> store) : Grain, IDecodeTileGrain
{
    private DeviceExecutor? _executor;
    private ModelLease<StableDiffusionModel>? _lease;
    private Task? _build;
    private VaeDecodeSession? _session;
    private DecodeMemoryBudget? _budget;
    private Tensor? _whole;
    private Task<DecodeProgress>? _running;
    private int _runningNorm = -1;

    private string Key => this.GetPrimaryKeyString();

    public Task StartAsync(DecodeAssignment assignment)
    {
        if (_build is not null) return Task.CompletedTask; // a retried start
        if (JobIds.Check(assignment.JobId) is { } problem) throw new InvalidJobException("job-id", problem);
        if (!Key.StartsWith($"{assignment.JobId}/{assignment.Epoch}/decode", StringComparison.Ordinal))
            throw new InvalidOperationException($"decode tile {Key} cannot take the assignment of {assignment.JobId}/{assignment.Epoch}");
        _executor = devices.Assign(Key);
        _build = BuildAsync(assignment, _executor);
        return Task.CompletedTask;
    }

    private async Task BuildAsync(DecodeAssignment assignment, DeviceExecutor executor)
    {
        var folder = ModelStorePaths.Resolve(assignment.Spec, store.Value.ModelsDirectory).Model
            ?? throw new InvalidJobException("model", "a latent decode needs a model");
        _lease = await devices.ModelCaches[executor.Name].AcquireAsync(folder, executor.Device, devices.HalfPrecision && executor.Device.type != TorchSharp.DeviceType.CPU);
        var vae = _lease.Model.Vae;
        await executor.RunAsync(() =>
        {
            using var noGrad = no_grad();
            using var crop = TensorPayloads.ToTensor(assignment.Crop);
            var parameter = vae.parameters().First();
            using var moved = crop.to(parameter.dtype, parameter.device);
            if (assignment.Whole)
            {
                using var batch = moved.unsqueeze(0);
                using var decoded = vae.Decode(batch);
                using var image = decoded.squeeze(0); // held while clone reads it (a collected temporary is freed at once)
                _whole = image.clone();
            }
            else
            {
                _session = new VaeDecodeSession(vae, moved, new LatentRegion(assignment.CoreTop, assignment.CoreLeft, assignment.CoreHeight, assignment.CoreWidth));
                _budget = devices.DecodeBudgets[executor.Name];
                _budget.Fit(_session);
            }
            return true;
        });
    }

    public async Task<DecodeProgress?> AdvanceAsync(int norm, DecodeStatistics? pooled, TimeSpan wait)
    {
        if (_build is null) throw new TileLostException($"decode tile {Key} has no state");
        if (_runningNorm != norm)
        {
            _runningNorm = norm;
            _running = RunAsync(norm, pooled);
        }
        var running = _running!;
        if (await Task.WhenAny(running, Task.Delay(wait)) != running) return null;
        return await running;
    }

    private async Task<DecodeProgress> RunAsync(int norm, DecodeStatistics? pooled)
    {
        await _build!;
        return await _executor!.RunAsync(() =>
        {
            if (_whole is not null) return new DecodeProgress(null);
            var session = _session!;
            if (pooled is not null && session.NormIndex == norm - 1)
            {
                session.Continue(new GroupStatistics(pooled.Norm, pooled.Sums, pooled.SquareSums, pooled.Count));
                _budget!.Fit(session);
            }
            if (session.NormIndex != norm && !session.IsComplete)
                throw new InvalidOperationException($"decode tile {Key} is at norm {session.NormIndex}, asked for {norm}");
            if (session.IsComplete) return new DecodeProgress(null);
            var s = session.Statistics;
            return new DecodeProgress(new DecodeStatistics(s.Norm, s.Sums, s.SquareSums, s.Count));
        });
    }

    public async Task<TensorPayload> ReadPixelsAsync()
    {
        if (_build is null) throw new TileLostException($"decode tile {Key} has no state");
        await _build;
        return await _executor!.RunAsync(() => _whole is { } whole
            ? TensorPayloads.ToPayload(whole)
            : _session is { IsComplete: true } session
                ? TensorPayloads.ToPayload(session.Output)
                : throw new InvalidOperationException($"decode tile {Key} is not complete"));
    }

    public async Task ReleaseAsync()
    {
        await FreeAsync();
        DeactivateOnIdle();
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => await FreeAsync();

    private async Task FreeAsync()
    {
        if (_executor is not { } executor || _build is not { } build) return;
        _build = null;
        try
        {
            await build;
            if (_running is { } running) await running;
        }
        catch (Exception)
        {
            // A failed decode reported its error to the coordinator already.
        }
        await executor.RunAsync(() =>
        {
            if (_session is { } session) _budget?.Release(session);
            _session?.Dispose();
            _whole?.Dispose();
            return true;
        });
        _lease?.Dispose();
        (_session, _budget, _whole, _lease, _running) = (null, null, null, null, null);
        await devices.ReleaseAsync(executor, Key);
    }
}
