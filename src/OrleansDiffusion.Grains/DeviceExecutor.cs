using System.Collections.Concurrent;
using System.Diagnostics;
using OrleansDiffusion.Diffusion.Engine;
using static TorchSharp.torch;

namespace OrleansDiffusion.Grains;

/// <summary>One tile's request to take part in a step; skipped without computing once <paramref name="Cancellation"/> fires
/// (the tile was released: its job failed, was cancelled or moved on).</summary>
internal sealed record StepRequest(string JobKey, int Step, TileWorker Tile, JobDeviceContext Job, CancellationToken Cancellation)
{
    public TaskCompletionSource<StepOutcome> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>A tile's proposal (owned by the tile) and the forward pass it was part of.</summary>
internal sealed record StepOutcome(Tensor Proposal, double DenoiseSeconds, int BatchSize);

/// <summary>
/// All work for one device runs on one dedicated thread: TorchSharp dispose scopes are thread-static and
/// device state must never be touched concurrently. Step requests of tiles of the same job and step are
/// gathered into one batch, i.e. one denoiser forward pass.
/// </summary>
public sealed class DeviceExecutor : IDisposable
{
    private readonly BlockingCollection<object> _queue = [];
    private readonly ConcurrentDictionary<string, int> _tilesPerJob = new();
    private readonly List<StepRequest> _deferred = [];
    private readonly Dictionary<string, (int Step, int Done)> _progress = []; // device thread only
    private readonly Thread _thread;
    private readonly TimeSpan _gatherWindow;
    private readonly int _maxBatch;
    private long _forwardPasses;

    public DeviceExecutor(string name, int maxBatch = 16, TimeSpan? gatherWindow = null)
    {
        Name = name;
        Device = new Device(name);
        _maxBatch = maxBatch;
        _gatherWindow = gatherWindow ?? TimeSpan.FromMilliseconds(200);
        _thread = new Thread(Run) { IsBackground = true, Name = $"odiff-device-{name}" };
        _thread.Start();
    }

    public string Name { get; }
    public Device Device { get; }

    /// <summary>Forward passes run so far (one per batch).</summary>
    public long ForwardPasses => Interlocked.Read(ref _forwardPasses);

    /// <summary>Requests waiting for the device.</summary>
    public int QueueLength => _queue.Count + _deferred.Count;

    /// <summary>Tiles currently placed on this device.</summary>
    public int Tiles => _tilesPerJob.Values.Sum();

    /// <summary>Raised on the device thread after each forward pass: (batch size, seconds).</summary>
    public event Action<DeviceExecutor, int, double>? ForwardPassCompleted;

    internal void AddTile(string jobKey) => _tilesPerJob.AddOrUpdate(jobKey, 1, (_, n) => n + 1);

    internal bool RemoveTile(string jobKey)
    {
        var left = _tilesPerJob.AddOrUpdate(jobKey, 0, (_, n) => Math.Max(0, n - 1));
        if (left == 0) _tilesPerJob.TryRemove(jobKey, out _);
        return left == 0;
    }

    /// <summary>Runs device work (creating or releasing state) on the device thread.</summary>
    public Task<T> RunAsync<T>(Func<T> work)
    {
        var item = new DeviceWork<T>(work);
        _queue.Add(item);
        return item.Completion.Task;
    }

    internal Task<StepOutcome> StepAsync(StepRequest request)
    {
        _queue.Add(request);
        return request.Completion.Task;
    }

    private void Run()
    {
        foreach (var item in _queue.GetConsumingEnumerable())
        {
            switch (item)
            {
                case StepRequest request:
                    RunBatch(Gather(request));
                    break;
                case IDeviceWork work:
                    work.Execute();
                    break;
            }
            while (_deferred.Count > 0)
            {
                var next = _deferred[0];
                _deferred.RemoveAt(0);
                RunBatch(Gather(next));
            }
        }
    }

    /// <summary>Collects requests of the same job and step until every tile of the job on this device has asked,
    /// the batch is full, or the gather window has passed (a slow tile never blocks the others for long).</summary>
    private List<StepRequest> Gather(StepRequest first)
    {
        var batch = new List<StepRequest> { first };
        bool Matches(StepRequest r) => r.JobKey == first.JobKey && r.Step == first.Step;
        foreach (var waiting in _deferred.Where(Matches).ToList())
        {
            if (batch.Count >= _maxBatch) break;
            batch.Add(waiting);
            _deferred.Remove(waiting);
        }
        // Wait only for the tiles of this job and step that have not been processed yet.
        var done = _progress.TryGetValue(first.JobKey, out var progress) && progress.Step == first.Step ? progress.Done : 0;
        var expected = Math.Min(_maxBatch, Math.Max(1, _tilesPerJob.GetValueOrDefault(first.JobKey, 1) - done));
        var deadline = Stopwatch.StartNew();
        while (batch.Count < expected)
        {
            var left = _gatherWindow - deadline.Elapsed;
            if (left <= TimeSpan.Zero || !_queue.TryTake(out var item, left)) break;
            if (item is StepRequest request && Matches(request)) batch.Add(request);
            else if (item is StepRequest other) _deferred.Add(other);
            else ((IDeviceWork)item).Execute();
        }
        return batch;
    }

    private void RunBatch(List<StepRequest> batch)
    {
        foreach (var released in batch.Where(r => r.Cancellation.IsCancellationRequested).ToList())
        {
            released.Completion.TrySetCanceled(released.Cancellation);
            batch.Remove(released);
        }
        if (batch.Count == 0) return;
        var key = batch[0].JobKey;
        var done = _progress.TryGetValue(key, out var progress) && progress.Step == batch[0].Step ? progress.Done : 0;
        _progress[key] = (batch[0].Step, done + batch.Count);
        if (_tilesPerJob.GetValueOrDefault(key) == 0) _progress.Remove(key);
        try
        {
            var job = batch[0].Job;
            var watch = Stopwatch.StartNew();
            var result = TileStepper.Step(batch.Select(r => r.Tile).ToList(), job.Denoiser, job.Scheduler, job.Noise, batch[0].Step);
            Interlocked.Increment(ref _forwardPasses);
            ForwardPassCompleted?.Invoke(this, batch.Count, watch.Elapsed.TotalSeconds);
            for (var i = 0; i < batch.Count; i++)
                batch[i].Completion.SetResult(new StepOutcome(result.Proposals[i], result.DenoiseSeconds, batch.Count));
        }
        catch (Exception e)
        {
            foreach (var request in batch) request.Completion.TrySetException(e);
        }
    }

    public void Dispose()
    {
        _queue.CompleteAdding();
        _thread.Join(TimeSpan.FromSeconds(10));
        _queue.Dispose();
    }

    private interface IDeviceWork
    {
        void Execute();
    }

    private sealed class DeviceWork<T>(Func<T> work) : IDeviceWork
    {
        public TaskCompletionSource<T> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Execute()
        {
            try
            {
                Completion.SetResult(work());
            }
            catch (Exception e)
            {
                Completion.SetException(e);
            }
        }
    }
}
