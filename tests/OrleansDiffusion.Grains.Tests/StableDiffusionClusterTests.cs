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
        await using var cluster = await EmbeddedCluster.StartAsync([SiloRole.Coordinator, SiloRole.Worker], outputs.Path);
        var status = await ClusterJobs.RunAsync(cluster, spec);

        Assert.True(status.State == JobState.Completed, status.Error);
        Assert.True(status.Tiles > 1);
        Assert.All(status.TilePlacement!, p => Assert.StartsWith("silo1/", p));
        Assert.Equal((96, 64, 8), PngReader.ReadHeader(status.OutputPath!));
        Assert.Equal(await ClusterJobs.InProcessPngAsync(spec, outputs.Path), await File.ReadAllBytesAsync(status.OutputPath!));
    }
}
