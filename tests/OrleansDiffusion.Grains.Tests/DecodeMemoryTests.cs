using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.StableDiffusion;
using OrleansDiffusion.Hosting;

namespace OrleansDiffusion.Grains.Tests;

/// <summary>The workers' bound on VAE decode memory: parked decode tiles replay to the same pixels.</summary>
public class DecodeMemoryTests
{
    [Fact]
    public async Task A_worker_whose_decode_budget_parks_every_tile_writes_the_in_process_image()
    {
        using var outputs = new TempDirectory();
        var models = Directory.CreateDirectory(Path.Combine(outputs.Path, "models")).FullName;
        var folder = Path.Combine(models, "tiny-sd");
        TinyModel.Write(folder, seed: 4);
        // A 72×64 latent: two decode windows, so the pooled sums cross tiles while every tile replays each stage.
        var spec = new JobSpec { Prompt = "a red barn", Model = folder, Width = 576, Height = 512, Tile = 256, Overlap = 64, Steps = 2, Seed = 9, Sync = SyncMode.Gaussian };
        await using var cluster = await EmbeddedCluster.StartAsync([SiloRole.Coordinator, SiloRole.Worker], outputs.Path, o =>
        {
            o.ModelsDirectory = models;
            o.DecodeMemoryBytes = 1;
        });
        var status = await ClusterJobs.RunAsync(cluster, spec with { Model = "tiny-sd" });

        Assert.True(status.State == JobState.Completed, status.Error);
        var png = await File.ReadAllBytesAsync(Path.Combine(outputs.Path, status.OutputPath!));
        Assert.Equal(await ClusterJobs.InProcessPngAsync(spec, outputs.Path), png);
        var budget = Assert.Single(cluster.Silos[1].Services.GetRequiredService<DeviceExecutorPool>().DecodeBudgets).Value;
        Assert.Equal(1, budget.Bytes);
        // Both tiles parked at every norm (the decoder's GroupNorms: 5 in the mid block, two per up-block resnet, the
        // output norm); released tiles leave nothing on the ledger.
        var vae = DiffusersFolder.Open(folder).Vae;
        Assert.Equal(2 * (5 + 2 * (vae.LayersPerBlock + 1) * vae.BlockOutChannels.Length + 1), budget.Parks);
        Assert.Equal(0, budget.LiveBytes);
    }

    [Fact]
    public void The_automatic_decode_budget_is_an_eighth_of_the_process_memory_on_the_cpu_and_4_GiB_on_a_gpu()
    {
        var automatic = new AcceleratorOptions();
        Assert.Equal(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 8, automatic.DecodeMemoryBytesOf("cpu"));
        Assert.Equal(4L << 30, automatic.DecodeMemoryBytesOf("cuda:0"));
        Assert.Equal(123, new AcceleratorOptions { DecodeMemoryBytes = 123 }.DecodeMemoryBytesOf("cuda:1"));
    }

    [Fact]
    public void A_negative_decode_budget_is_refused_at_start_naming_its_key()
    {
        var error = Assert.Throws<OptionsValidationException>(() => DiffusionSiloOptionsValidator.EnsureValid(new DiffusionSiloOptions { DecodeMemoryBytes = -1 }));
        Assert.Contains("OrleansDiffusion:DecodeMemoryBytes", error.Message, StringComparison.Ordinal);
    }
}
