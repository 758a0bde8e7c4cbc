using TorchSharp;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion;

/// <summary>What a cached model is keyed by: its folder (full path), the device ("cpu", "cuda:0") and the weights' dtype.</summary>
public sealed record ModelKey(string Folder, string Device, ScalarType DType)
{
    /// <summary>The key of <paramref name="folder"/> on <paramref name="device"/>, fp16 when <paramref name="half"/> and the device is not the CPU.</summary>
    public static ModelKey For(string folder, Device device, bool half)
    {
        ArgumentNullException.ThrowIfNull(device);
        return new(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)), device.ToString(), half && device.type != DeviceType.CPU ? ScalarType.Float16 : ScalarType.Float32);
    }
}

/// <summary>A model held from the cache; dispose it to release the hold (the model stays cached until evicted).</summary>
public sealed class ModelLease<T> : IDisposable where T : class, IDisposable
{
    private readonly ModelCache<T> _cache;
    private int _released;

    internal ModelLease(ModelCache<T> cache, ModelKey key, T model)
    {
        _cache = cache;
        Key = key;
        Model = model;
    }

    public ModelKey Key { get; }
    public T Model { get; }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0) _cache.Release(Key);
    }
}

/// <summary>
/// A per-process cache of loaded models, shared by every job and tile on a device. <see cref="AcquireAsync"/> returns
/// a reference-counted lease; concurrent requests for one key share one load, which runs on the thread pool (never on
/// the caller's thread, so a device executor keeps stepping other jobs). Models no one leases stay cached and are
/// evicted least recently used first while the cached bytes exceed the budget; a leased model is never evicted (the
/// cache may then exceed its budget until leases end). <see cref="Loads"/>, <see cref="CachedBytes"/> and
/// <see cref="Evictions"/> are the counters to export.
/// </summary>
public class ModelCache<T> : IDisposable where T : class, IDisposable
{
    private readonly Func<ModelKey, T> _load;
    private readonly Func<T, long> _bytes;
    private readonly Func<ModelKey, long>? _estimate;
    private readonly Dictionary<ModelKey, Entry> _entries = [];
    private readonly Lock _lock = new();
    private long _clock;
    private long _loads;
    private long _evictions;
    private long _cachedBytes;
    private bool _disposed;

    /// <param name="memoryBudget">bytes of unleased models kept; leased ones always stay.</param>
    /// <param name="load">loads a model (runs on the thread pool).</param>
    /// <param name="bytes">a loaded model's size.</param>
    /// <param name="estimate">a model's size before it loads, to evict room for it first (optional).</param>
    public ModelCache(long memoryBudget, Func<ModelKey, T> load, Func<T, long> bytes, Func<ModelKey, long>? estimate = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(memoryBudget);
        MemoryBudget = memoryBudget;
        _load = load ?? throw new ArgumentNullException(nameof(load));
        _bytes = bytes ?? throw new ArgumentNullException(nameof(bytes));
        _estimate = estimate;
    }

    public long MemoryBudget { get; }

    /// <summary>Loads started (a shared load counts once).</summary>
    public long Loads => Interlocked.Read(ref _loads);

    public long Evictions => Interlocked.Read(ref _evictions);

    /// <summary>Bytes of the loaded models held (leased or not).</summary>
    public long CachedBytes => Interlocked.Read(ref _cachedBytes);

    /// <summary>Keys cached or loading.</summary>
    public IReadOnlyList<ModelKey> Keys
    {
        get
        {
            lock (_lock) return _entries.Keys.ToArray();
        }
    }

    /// <summary>A lease on the model of <paramref name="key"/>, loading it unless cached or already loading.</summary>
    public async Task<ModelLease<T>> AcquireAsync(ModelKey key, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        Entry entry;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_entries.TryGetValue(key, out entry!))
            {
                entry = new Entry(Task.Run(() => LoadOffThread(key), CancellationToken.None)) { Leases = 1, LastUsed = ++_clock };
                _entries[key] = entry;
                _loads++;
                // registered after the lease is counted: a load that already finished cannot be evicted before its first lease
                var loading = entry;
                _ = entry.Load.ContinueWith(t => Loaded(key, loading, t), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
            else
            {
                entry.Leases++;
                entry.LastUsed = ++_clock;
            }
        }
        try
        {
            var model = await entry.Load.WaitAsync(cancellation).ConfigureAwait(false);
            return new ModelLease<T>(this, key, model);
        }
        catch
        {
            Release(key, entry);
            throw;
        }
    }

    /// <summary>On the thread pool: makes room for the model's estimated size, then loads it.</summary>
    private T LoadOffThread(ModelKey key)
    {
        if (_estimate is not null)
        {
            var room = _estimate(key);
            lock (_lock) EvictLocked(room);
        }
        return _load(key);
    }

    internal void Release(ModelKey key)
    {
        lock (_lock)
            if (_entries.TryGetValue(key, out var entry)) ReleaseLocked(entry);
    }

    private void Release(ModelKey key, Entry entry)
    {
        lock (_lock)
            if (_entries.TryGetValue(key, out var current) && current == entry) ReleaseLocked(entry);
    }

    private void ReleaseLocked(Entry entry)
    {
        entry.Leases--;
        entry.LastUsed = ++_clock;
        EvictLocked(0);
    }

    private void Loaded(ModelKey key, Entry entry, Task<T> load)
    {
        lock (_lock)
        {
            if (load.IsCompletedSuccessfully)
            {
                entry.Bytes = _bytes(load.Result);
                _cachedBytes += entry.Bytes;
                if (_disposed) DisposeLocked(key, entry);
                else EvictLocked(0);
            }
            else if (_entries.TryGetValue(key, out var current) && current == entry)
            {
                _entries.Remove(key); // a failed load is not cached: the next request tries again
            }
        }
    }

    /// <summary>Evicts unleased loaded models, least recently used first, until <paramref name="room"/> more bytes fit the budget.</summary>
    private void EvictLocked(long room)
    {
        while (_cachedBytes + room > MemoryBudget)
        {
            var victim = _entries.Where(e => e.Value.Leases == 0 && e.Value.Load.IsCompletedSuccessfully)
                .OrderBy(e => e.Value.LastUsed).Select(e => (KeyValuePair<ModelKey, Entry>?)e).FirstOrDefault();
            if (victim is not { } v) return;
            DisposeLocked(v.Key, v.Value);
            _evictions++;
        }
    }

    private void DisposeLocked(ModelKey key, Entry entry)
    {
        if (_entries.TryGetValue(key, out var current) && current == entry) _entries.Remove(key);
        _cachedBytes -= entry.Bytes;
        entry.Load.Result.Dispose();
    }

    /// <summary>Disposes every cached model (leases still held keep references to disposed models; dispose the cache last).</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var (key, entry) in _entries.ToArray())
                if (entry.Load.IsCompletedSuccessfully) DisposeLocked(key, entry);
            _entries.Clear();
        }
        GC.SuppressFinalize(this);
    }

    private sealed class Entry(Task<T> load)
    {
        public Task<T> Load { get; } = load;
        public int Leases { get; set; }
        public long LastUsed { get; set; }
        public long Bytes { get; set; }
    }
}

/// <summary>The cache of Stable Diffusion models: loads a diffusers folder strictly onto the key's device and dtype.</summary>
public sealed class ModelCache(long memoryBudget)
    : ModelCache<StableDiffusionModel>(memoryBudget, LoadModel, m => m.Bytes, Estimate)
{
    /// <summary>A lease on the model in <paramref name="folder"/> on <paramref name="device"/> (fp16 weights on GPUs when <paramref name="half"/>).</summary>
    public Task<ModelLease<StableDiffusionModel>> AcquireAsync(string folder, Device device, bool half = false, CancellationToken cancellation = default) =>
        AcquireAsync(ModelKey.For(folder, device, half), cancellation);

    private static StableDiffusionModel LoadModel(ModelKey key) =>
        DiffusersFolder.Open(key.Folder).Load(new Device(key.Device), key.DType == ScalarType.Float16);

    /// <summary>Parameters × element size of the key's dtype, from the weight headers.</summary>
    private static long Estimate(ModelKey key)
    {
        try
        {
            return DiffusersFolder.Open(key.Folder).Weights.Sum(w => w.Parameters) * (key.DType == ScalarType.Float16 ? 2 : 4);
        }
        catch (ModelFormatException)
        {
            return 0; // the load reports it
        }
    }
}
