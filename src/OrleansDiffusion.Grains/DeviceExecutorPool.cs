using Microsoft.Extensions.Options;
using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Grains;

/// <summary>The silo's device executors; tiles go to the least loaded device, and the tiles of a job on one
/// device share one <see cref="JobDeviceContext"/> (denoiser, scheduler, noise field).</summary>
public sealed class DeviceExecutorPool : IDisposable
{
    private readonly Dictionary<(string Device, string Job), JobDeviceContext> _contexts = [];
    private readonly Lock _lock = new();

    private readonly bool _half;

    public DeviceExecutorPool(IOptions<AcceleratorOptions> options)
    {
        var accelerator = options.Value;
        _half = accelerator.HalfPrecision;
        Executors = accelerator.Devices.Select(d => new DeviceExecutor(d, accelerator.MaxBatch)).ToArray();
    }

    public IReadOnlyList<DeviceExecutor> Executors { get; }

    internal DeviceExecutor Assign(string jobKey)
    {
        lock (_lock)
        {
            var executor = Executors.MinBy(e => e.Tiles)!;
            executor.AddTile(jobKey);
            return executor;
        }
    }

    /// <summary>Call on the executor's thread. Only that thread creates contexts for its device, so building one (seconds
    /// for a model) happens outside the lock: grain threads assigning tiles meanwhile must never block on it.</summary>
    internal JobDeviceContext Context(DeviceExecutor executor, string jobKey, TileAssignment assignment)
    {
        lock (_lock)
        {
            if (_contexts.TryGetValue((executor.Name, jobKey), out var existing)) return existing;
        }
        var context = JobDeviceContext.Create(assignment, executor.Device, _half);
        lock (_lock) _contexts[(executor.Name, jobKey)] = context;
        return context;
    }

    /// <summary>Call on the executor's thread; frees the job's shared state with its last tile.</summary>
    internal void Release(DeviceExecutor executor, string jobKey)
    {
        JobDeviceContext? context;
        lock (_lock)
        {
            if (!executor.RemoveTile(jobKey) || !_contexts.Remove((executor.Name, jobKey), out context)) return;
        }
        context.Dispose();
    }

    public void Dispose()
    {
        foreach (var executor in Executors) executor.Dispose();
        foreach (var context in _contexts.Values) context.Dispose();
    }
}
