using Microsoft.Extensions.DependencyInjection;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Hosting;

namespace OrleansDiffusion.Grains.Tests;

/// <summary>A device batches the tiles of a job's step into forward passes of up to 16. With a gather window longer than
/// any step, a batch closes only when every tile of the job on the device has asked, so the pass count is exact.</summary>
public class BatchingTests
{
    [Fact]
    public async Task Each_device_runs_a_step_of_its_tiles_in_the_fewest_forward_passes()
    {
        using var outputs = new TempDirectory();
        await using var cluster = await EmbeddedCluster.StartAsync([SiloRole.Coordinator, SiloRole.Worker, SiloRole.Worker], outputs.Path,
            o => o.BatchGatherWindow = TimeSpan.FromMinutes(5));
        var spec = ClusterJobs.Spec(steps: 4) with { Width = 320, Height = 256 };
        var status = await ClusterJobs.RunAsync(cluster, spec);
        Assert.True(status.State == JobState.Completed, status.Error);

        var passes = cluster.Silos.Select(s => s.Services.GetService<DeviceExecutorPool>()).OfType<DeviceExecutorPool>().Sum(p => p.Executors.Sum(e => e.ForwardPasses));
        var perDevice = status.TilePlacement!.GroupBy(p => p).Select(g => g.Count()).ToList();
        Assert.Equal(2, perDevice.Count);
        Assert.True(perDevice.Max() > 16, "some device must need more than one pass per step for the test to mean something");
        Assert.Equal(spec.Steps * perDevice.Sum(n => (n + 15) / 16), passes);
    }
}
