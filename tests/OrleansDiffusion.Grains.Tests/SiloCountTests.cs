using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Hosting;

namespace OrleansDiffusion.Grains.Tests;

public class SiloCountTests
{
    [Fact]
    public async Task The_same_job_on_one_two_and_three_silos_gives_identical_images()
    {
        using var outputs = new TempDirectory();
        var spec = ClusterJobs.Spec(SyncMode.Attention, steps: 5);
        var images = new List<byte[]>();
        foreach (var roles in new SiloRole[][] { [SiloRole.All], [SiloRole.All, SiloRole.Worker], [SiloRole.All, SiloRole.Worker, SiloRole.Worker] })
        {
            await using var cluster = await EmbeddedCluster.StartAsync(roles, outputs.Path);
            var status = await ClusterJobs.RunAsync(cluster, spec);
            Assert.True(status.State == JobState.Completed, status.Error);
            Assert.Equal(roles.Length, status.Statistics!.Silos);
            images.Add(await File.ReadAllBytesAsync(Path.Combine(outputs.Path, status.OutputPath!)));
        }
        Assert.Equal(images[0], images[1]);
        Assert.Equal(images[0], images[2]);
    }
}
