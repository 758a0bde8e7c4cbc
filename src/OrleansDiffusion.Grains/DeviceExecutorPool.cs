using Microsoft.Extensions.Options;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.StableDiffusion;

namespace OrleansDiffusion.Grains;

/// <summary>The silo's device executors; tiles go to the least loaded device, and the tiles of a job on one
/// device share one <see cref="JobDeviceContext"/> (denoiser, scheduler, noise field), built once.</summary>
public sealed class DeviceExecutorPool : IDisposable
{
    private readonly Dictionary<(string Device, string Job), Task<JobDeviceContext>> _contexts = [];
    private readonly Lock _lock = new();
    private readonly bool _half;
    private readonly string? _models;
    private readonly double _benchmarkTileMilliseconds;

    public DeviceExecutorPool(IOptions<AcceleratorOptions> options, IOptions<OutputStoreOptions> store)
    {
        var accelerator = options.Value;
        _half = accelerator.HalfPrecision;
        _models = store.Value.ModelsDirectory;
        _benchmarkTileMilliseconds = accelerator.BenchmarkTileMilliseconds;
        Executors = accelerator.Devices.Select(d => new DeviceExecutor(d, accelerator.MaxBatch, accelerator.BatchGatherWindow)).ToArray();
        ModelCaches = Executors.ToDictionary(e => e.Name, _ => new ModelCache(accelerator.ModelCacheBytes));
        DecodeBudgets = Executors.ToDictionary(e => e.Name, e => new DecodeMemoryBudget(accelerator.DecodeMemoryBytesOf(e.Name)));
    }

    public IReadOnlyList<DeviceExecutor> Executors { get; }

    /// <summary>Models are kept in fp16 on GPU devices.</summary>
    public bool HalfPrecision => _half;

    /// <summary>Each device's cache of loaded models, shared by all jobs on the device.</summary>
    public IReadOnlyDictionary<string, ModelCache> ModelCaches { get; }

    /// <summary>Each device's bound on the activations its decode tiles keep between GroupNorms.</summary>
    public IReadOnlyDictionary<string, DecodeMemoryBudget> DecodeBudgets { get; }

    internal DeviceExecutor Assign(string jobKey)
    {
        lock (_lock)
        {
            var executor = Executors.MinBy(e => e.Tiles)!;
            executor.AddTile(jobKey);
            return executor;
        }
    }

    /// <summary>The job's shared state on the executor's device, built on the thread pool (decoding an exemplar or
    /// loading a model never blocks the device thread, so other jobs keep stepping); concurrent tiles share one build.</summary>
    internal Task<JobDeviceContext> ContextAsync(DeviceExecutor executor, string jobKey, TileAssignment assignment)
    {
        lock (_lock)
        {
            if (!_contexts.TryGetValue((executor.Name, jobKey), out var context))
            {
                context = Task.Run(() => JobDeviceContext.CreateAsync(assignment, executor.Device, _half, _models, ModelCaches[executor.Name], _benchmarkTileMilliseconds));
                _contexts[(executor.Name, jobKey)] = context;
            }
            return context;
        }
    }

    /// <summary>Frees the job's shared state with its last tile on the device.</summary>
    internal async Task ReleaseAsync(DeviceExecutor executor, string jobKey)
    {
        Task<JobDeviceContext>? context;
        lock (_lock)
        {
            if (!executor.RemoveTile(jobKey) || !_contexts.Remove((executor.Name, jobKey), out context)) return;
        }
        try
        {
            (await context).Dispose();
        }
        catch (Exception)
        {
            // The build failed: there is nothing to free, and its tiles already reported the error.
        }
    }

    public void Dispose()
    {
        foreach (var executor in Executors) executor.Dispose();
        foreach (var context in _contexts.Values.Where(c => c.IsCompletedSuccessfully)) context.Result.Dispose();
        foreach (var cache in ModelCaches.Values) cache.Dispose();
    }
}
