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
}
