using Microsoft.Extensions.DependencyInjection;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Imaging;
using OrleansDiffusion.Diffusion.StableDiffusion;
using OrleansDiffusion.Hosting;

namespace OrleansDiffusion.Grains.Tests;

/// <summary>A Stable Diffusion job (the tiny random model) on a two-silo cluster: latent tiles on the worker,
/// the VAE decode on the coordinator, the same image as in process.</summary>
public class StableDiffusionClusterTests
{
    [Fact]
    public async Task Tiny_model_job_on_the_cluster_matches_the_in_process_image()
    {
        using var outputs = new TempDirectory();
        var model = Path.Combine(outputs.Path, "tiny-sd");
        TinyModel.Write(model, seed: 3);
        var spec = new JobSpec
        {
            Prompt = "a photo of a cat", NegativePrompt = "blurry", Model = model, Width = 96, Height = 64,
            Tile = 32, Overlap = 8, Steps = 4, Seed = 5, Sync = SyncMode.Attention, Cfg = 5,
        };
        // On a cluster the job names the model; the silos find it in their model store.
        await using var cluster = await EmbeddedCluster.StartAsync([SiloRole.Coordinator, SiloRole.Worker], outputs.Path, o => o.ModelsDirectory = outputs.Path);
        var status = await ClusterJobs.RunAsync(cluster, spec with { Model = "tiny-sd" });

        Assert.True(status.State == JobState.Completed, status.Error);
        Assert.True(status.Tiles > 1);
        Assert.All(status.TilePlacement!, p => Assert.StartsWith("silo1/", p));
        var png = Path.Combine(outputs.Path, status.OutputPath!);
        Assert.Equal((96, 64, 8), PngReader.ReadHeader(png));
        Assert.Equal(await ClusterJobs.InProcessPngAsync(spec, outputs.Path), await File.ReadAllBytesAsync(png));
    }

    [Theory]
    [InlineData("/etc")]
    [InlineData("../x")]
    [InlineData("tiny-sd/../../etc")]
    public async Task A_model_path_instead_of_a_store_name_is_refused_before_anything_runs(string model)
    {
        using var outputs = new TempDirectory();
        await using var cluster = await EmbeddedCluster.StartAsync([SiloRole.All], outputs.Path, o => o.ModelsDirectory = outputs.Path);
        var coordinator = cluster.Client.GetGrain<ICoordinatorGrain>($"model-{Guid.NewGuid():N}");
        var error = await Assert.ThrowsAsync<InvalidJobException>(() => coordinator.SubmitAsync(ClusterJobs.Spec() with { Model = model }));
        Assert.Contains(error.Errors, e => e.Field == "model");
        Assert.Null(await coordinator.GetStatusAsync());
    }

    [Fact]
    public async Task Three_jobs_load_the_model_once_per_device_and_the_catalog_lists_it_on_every_silo()
    {
        using var outputs = new TempDirectory();
        var models = Directory.CreateDirectory(Path.Combine(outputs.Path, "models")).FullName;
        TinyModel.Write(Path.Combine(models, "tiny-sd"), seed: 3);
        await using var cluster = await EmbeddedCluster.StartAsync([SiloRole.Coordinator, SiloRole.Worker], outputs.Path, o => o.ModelsDirectory = models);
        var spec = new JobSpec { Prompt = "a cat", Model = "tiny-sd", Width = 64, Height = 64, Tile = 32, Overlap = 8, Steps = 2, Sync = SyncMode.Average };
        var jobs = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => ClusterJobs.RunAsync(cluster, spec with { Seed = i, Prompt = $"a cat {i}" })));

        Assert.All(jobs, j => Assert.True(j.State == JobState.Completed, j.Error));
        var pool = cluster.Silos[1].Services.GetRequiredService<DeviceExecutorPool>();
        var cache = Assert.Single(pool.ModelCaches).Value;
        Assert.Equal(1, cache.Loads);
        Assert.True(cache.CachedBytes > 0);

        var listed = await cluster.Client.GetGrain<IModelCatalogGrain>(0).ListAsync();
        var model = Assert.Single(listed);
        Assert.Equal("tiny-sd", model.Name);
        Assert.Null(model.Error);
        Assert.NotEmpty(model.Family);
        Assert.True(model.Parameters > 0);
        Assert.Equal(["silo0", "silo1"], model.Silos);
    }

    [Fact]
    public async Task A_multi_tile_latent_is_decoded_on_the_worker_and_equals_the_in_process_tiled_decode()
    {
        using var outputs = new TempDirectory();
        var models = Directory.CreateDirectory(Path.Combine(outputs.Path, "models")).FullName;
        var folder = Path.Combine(models, "tiny-sd");
        TinyModel.Write(folder, seed: 4);
        // 576×512 pixels: a 72×64 latent, two decode windows of 64 cells, so the GroupNorm sums cross silos.
        var spec = new JobSpec { Prompt = "a red barn", Model = folder, Width = 576, Height = 512, Tile = 256, Overlap = 64, Steps = 2, Seed = 9, Sync = SyncMode.Gaussian };
        await using var cluster = await EmbeddedCluster.StartAsync([SiloRole.Coordinator, SiloRole.Worker], outputs.Path, o => o.ModelsDirectory = models);
        var status = await ClusterJobs.RunAsync(cluster, spec with { Model = "tiny-sd" });

        Assert.True(status.State == JobState.Completed, status.Error);
        var png = await File.ReadAllBytesAsync(Path.Combine(outputs.Path, status.OutputPath!));
        Assert.Equal(await ClusterJobs.InProcessPngAsync(spec, outputs.Path), png);
        // The worker loaded the model once, for denoising and decoding alike; the coordinator has no device to load it on.
        Assert.Equal(1, Assert.Single(cluster.Silos[1].Services.GetRequiredService<DeviceExecutorPool>().ModelCaches).Value.Loads);
        Assert.Null(cluster.Silos[0].Services.GetService<DeviceExecutorPool>());
    }
}
