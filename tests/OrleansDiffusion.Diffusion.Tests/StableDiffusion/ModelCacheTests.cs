using OrleansDiffusion.Diffusion.StableDiffusion;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.StableDiffusion;

public sealed class ModelCacheTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("odiff-cache-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>A stand-in model of a given size that records its disposal.</summary>
    private sealed class Fake(string name, long bytes) : IDisposable
    {
        public string Name { get; } = name;
        public long Bytes { get; } = bytes;
        public bool Disposed { get; private set; }
        public void Dispose() => Disposed = true;
    }

    private static ModelKey Key(string name) => new($"/models/{name}", "cpu", ScalarType.Float32);

    private static ModelCache<Fake> FakeCache(long budget, Func<ModelKey, Fake>? load = null) =>
        new(budget, load ?? (k => new Fake(Path.GetFileName(k.Folder), 100)), f => f.Bytes);

    [Fact]
    public async Task Two_leases_of_one_real_model_share_one_load()
    {
        var folder = Path.Combine(_root, "tiny");
        TinyModel.Write(folder);
        using var cache = new ModelCache(1L << 30);

        var first = cache.AcquireAsync(folder, CPU);
        var second = cache.AcquireAsync(folder + "/", CPU);
        using var a = await first;
        using var b = await second;

        Assert.Same(a.Model, b.Model);
        Assert.Equal(1, cache.Loads);
        Assert.Equal(a.Model.Bytes, cache.CachedBytes);
        Assert.True(cache.CachedBytes > 0);
    }

    [Fact]
    public async Task Concurrent_requests_wait_for_the_one_load_which_runs_off_the_callers_thread()
    {
        using var gate = new ManualResetEventSlim();
        using var started = new ManualResetEventSlim();
        var loadThread = -1;
        using var cache = FakeCache(1000, k =>
        {
            loadThread = Environment.CurrentManagedThreadId;
            started.Set();
            gate.Wait();
            return new Fake("m", 100);
        });
        var caller = Environment.CurrentManagedThreadId;

        var requests = Enumerable.Range(0, 5).Select(_ => cache.AcquireAsync(Key("m"))).ToArray();
        // The caller keeps its thread until the load has begun (once it awaits, a pool thread could run the load and
        // carry the caller's id); the timeout only guards against a hang.
        Assert.True(started.Wait(TimeSpan.FromSeconds(60)), "the load never started");
        Assert.All(requests, r => Assert.False(r.IsCompleted));
        gate.Set();
        var leases = await Task.WhenAll(requests);

        Assert.Equal(1, cache.Loads);
        Assert.NotEqual(caller, loadThread);
        Assert.All(leases, l => Assert.Same(leases[0].Model, l.Model));
        foreach (var lease in leases) lease.Dispose();
    }

    [Fact]
    public async Task Unleased_models_are_evicted_least_recently_used_first_under_the_budget()
    {
        using var cache = FakeCache(300);
        var models = new Dictionary<string, Fake>();
        foreach (var name in new[] { "a", "b", "c" })
            using (var lease = await cache.AcquireAsync(Key(name))) models[name] = lease.Model;
        using (await cache.AcquireAsync(Key("a"))) { } // a is now more recent than b and c

        using (var d = await cache.AcquireAsync(Key("d"))) models["d"] = d.Model;

        Assert.True(models["b"].Disposed);
        Assert.False(models["a"].Disposed || models["c"].Disposed || models["d"].Disposed);
        Assert.Equal(300, cache.CachedBytes);
        Assert.Equal(1, cache.Evictions);

        using (await cache.AcquireAsync(Key("e"))) { }
        Assert.True(models["c"].Disposed);
        Assert.False(models["a"].Disposed);
        Assert.Equal(5, cache.Loads);
    }

    [Fact]
    public async Task A_leased_model_is_never_evicted_even_over_budget()
    {
        using var cache = FakeCache(150);
        var held = await cache.AcquireAsync(Key("held"));
        using (var other = await cache.AcquireAsync(Key("other")))
        {
            Assert.Equal(200, cache.CachedBytes); // both leased: over budget, nothing to evict
            Assert.False(held.Model.Disposed || other.Model.Disposed);
        }

        Assert.Equal(100, cache.CachedBytes); // "other" went once released
        Assert.False(held.Model.Disposed);
        held.Dispose();
        held.Dispose(); // a second release changes nothing
        Assert.False(held.Model.Disposed); // within budget once alone
        using var again = await cache.AcquireAsync(Key("held"));
        Assert.Same(held.Model, again.Model);
        Assert.Equal(2, cache.Loads);
    }

    [Fact]
    public async Task A_failed_load_is_not_cached_and_the_next_request_retries()
    {
        var attempts = 0;
        using var cache = FakeCache(1000, k => ++attempts == 1 ? throw new ModelFormatException(k.Folder, null, "broken") : new Fake("m", 100));

        await Assert.ThrowsAsync<ModelFormatException>(() => cache.AcquireAsync(Key("m")));
        using var lease = await cache.AcquireAsync(Key("m"));

        Assert.Equal(2, cache.Loads);
        Assert.Equal(100, cache.CachedBytes);
    }

    [Fact]
    public async Task Room_is_made_for_the_estimated_size_before_a_load()
    {
        var loaded = new List<Fake>();
        Fake Load(ModelKey k)
        {
            // when "big" loads, the unleased "small" must already be gone
            if (k == Key("big")) Assert.All(loaded, f => Assert.True(f.Disposed));
            var fake = new Fake(Path.GetFileName(k.Folder), k == Key("big") ? 250 : 100);
            loaded.Add(fake);
            return fake;
        }
        using var cache = new ModelCache<Fake>(300, Load, f => f.Bytes, k => k == Key("big") ? 250 : 100);
        using (await cache.AcquireAsync(Key("small"))) { }

        using var big = await cache.AcquireAsync(Key("big"));

        Assert.True(loaded[0].Disposed);
        Assert.Equal(250, cache.CachedBytes);
    }

    [Fact]
    public void Half_precision_is_a_separate_key_on_gpus_only()
    {
        Assert.Equal(ScalarType.Float32, ModelKey.For("/m", CPU, half: true).DType);
        Assert.Equal(ScalarType.Float16, ModelKey.For("/m", new Device("cuda:0"), half: true).DType);
        Assert.Equal(ModelKey.For("/m/", CPU, false), ModelKey.For("/m", CPU, false));
    }
}
