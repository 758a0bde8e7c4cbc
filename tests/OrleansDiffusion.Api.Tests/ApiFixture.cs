using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Client;
using OrleansDiffusion.Diffusion.StableDiffusion;
using OrleansDiffusion.Hosting;

namespace OrleansDiffusion.Api.Tests;

/// <summary>One embedded silo (every role) and two real Kestrel servers over it on 127.0.0.1: one requiring API keys, one open.</summary>
public class ApiFixture : IAsyncLifetime
{
    public const string Key = "test-key-7b1d0c";
    public const int DeepZoomTileSize = 64;

    private readonly List<WebApplication> _apps = [];

    public string Root { get; } = Directory.CreateTempSubdirectory("odiff-api-tests-").FullName;
    public EmbeddedCluster Cluster { get; private set; } = null!;
    public DiffusionClient Sdk { get; private set; } = null!;

    /// <summary>The secured API with the valid key.</summary>
    public HttpClient Http { get; private set; } = null!;

    /// <summary>The secured API without any key.</summary>
    public HttpClient Anonymous { get; private set; } = null!;

    /// <summary>The open API (no keys file), as the web page test uses it.</summary>
    public Uri OpenBase { get; private set; } = null!;

    /// <summary>The cluster's admission bound (jobs queued or running at once); null keeps the silo's default.</summary>
    protected virtual int? MaxQueuedJobs => null;

    /// <summary>The silo's model store: a tiny random Stable Diffusion folder and one that does not open.</summary>
    public string ModelsDirectory => Path.Combine(Root, "models");

    public const string TinyModelName = "tiny-sd";
    public const string BrokenModelName = "broken";

    public async Task InitializeAsync()
    {
        TinyModel.Write(Path.Combine(ModelsDirectory, TinyModelName), seed: 7);
        Directory.CreateDirectory(Path.Combine(ModelsDirectory, BrokenModelName));
        await File.WriteAllTextAsync(Path.Combine(ModelsDirectory, BrokenModelName, "model_index.json"), "{}");
        Cluster = await EmbeddedCluster.StartAsync([SiloRole.All], Path.Combine(Root, "outputs"), configure: o =>
        {
            o.ModelsDirectory = ModelsDirectory;
            if (MaxQueuedJobs is { } max) o.MaxQueuedJobs = max;
        });
        Sdk = new DiffusionClient(Cluster.Client);
        var keys = Path.Combine(Root, "keys.txt");
        await File.WriteAllTextAsync(keys, $"# API keys\n{Key}\nanother-key\n");
        var secured = await StartAsync(keys, "cache-secured");
        OpenBase = await StartAsync(null, "cache-open");
        Http = new HttpClient { BaseAddress = secured, Timeout = TimeSpan.FromMinutes(3) };
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        Anonymous = new HttpClient { BaseAddress = secured };
    }

    private async Task<Uri> StartAsync(string? keysFile, string cache)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders().AddConsole().SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddSingleton(Sdk);
        builder.Services.AddOrleansDiffusionApi(configure: o =>
        {
            o.ApiKeysFile = keysFile;
            o.CacheDirectory = Path.Combine(Root, cache);
            o.DeepZoomTileSize = DeepZoomTileSize;
        });
        var app = builder.Build();
        app.MapOrleansDiffusionApi();
        await app.StartAsync();
        _apps.Add(app);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Uri(address.TrimEnd('/') + "/");
    }

    /// <summary>A tiny job: 64², 9 tiles of 32, 2 steps.</summary>
    public static Dictionary<string, object> SmallSpec(long seed = 1, int steps = 2) => new()
    {
        ["prompt"] = "wood",
        ["width"] = 64,
        ["height"] = 64,
        ["tile"] = 32,
        ["overlap"] = 16,
        ["sync"] = "average",
        ["steps"] = steps,
        ["seed"] = seed,
    };

    public async Task<JobStatus> WaitAsync(string jobId)
    {
        JobStatus? last = null;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await foreach (var status in Sdk.WatchAsync(jobId, timeout.Token)) last = status;
        return last!;
    }

    /// <summary>The ids of the cluster's jobs (what a side effect would change).</summary>
    public async Task<List<string>> JobIdsAsync() => (await Sdk.ListJobsAsync(10000)).Select(j => j.JobId).Order().ToList();

    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
    {
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.Clone();
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        Anonymous.Dispose();
        foreach (var app in _apps) await app.DisposeAsync();
        await Cluster.DisposeAsync();
        Directory.Delete(Root, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class ApiCollection : ICollectionFixture<ApiFixture>
{
    public const string Name = "api";
}

/// <summary>A cluster that admits one job at a time: the second submit finds the queue full.</summary>
public sealed class QueueOfOneFixture : ApiFixture
{
    protected override int? MaxQueuedJobs => 1;
}

[CollectionDefinition(Name)]
public sealed class QueueOfOneCollection : ICollectionFixture<QueueOfOneFixture>
{
    public const string Name = "api, queue of 1";
}

/// <summary>A cluster that admits eight jobs at a time, for bursts of submits.</summary>
public sealed class QueueOfEightFixture : ApiFixture
{
    public const int Capacity = 8;

    protected override int? MaxQueuedJobs => Capacity;
}

[CollectionDefinition(Name)]
public sealed class QueueOfEightCollection : ICollectionFixture<QueueOfEightFixture>
{
    public const string Name = "api, queue of 8";
}
