using Microsoft.Extensions.DependencyInjection;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Engine;
using OrleansDiffusion.Hosting;

namespace OrleansDiffusion.Grains.Tests;

public class TileGrainTests
{
    [Fact]
    public async Task Retried_step_calls_are_idempotent_and_stale_calls_are_refused()
    {
        using var outputs = new TempDirectory();
        await using var cluster = await EmbeddedCluster.StartAsync([SiloRole.All], outputs.Path);
        var spec = ClusterJobs.Spec(SyncMode.None, steps: 3); // no context: a tile may adopt its own proposal
        var (channels, maxHalo, _) = JobComponents.DenoiserShape(spec);
        var plan = JobComponents.Plan(spec, channels, maxHalo, JobComponents.CreateSync(spec.Sync));
        var window = plan.Layout.Windows[0];
        var tile = cluster.Client.GetGrain<ITileGrain>("idempotent/1/0");
        await tile.InitializeAsync(new TileAssignment
        {
            JobId = "idempotent", Epoch = 1, Spec = spec, Window = window, CanvasWidth = spec.Width, CanvasHeight = spec.Height,
            TileWidth = plan.Layout.TileWidth, TileHeight = plan.Layout.TileHeight, Context = plan.Context, Channels = channels, TileCount = plan.Layout.Count,
        });
        var executor = cluster.Silos[0].Services.GetRequiredService<DeviceExecutorPool>().Executors[0];

        var call = new StepCall("idempotent", 1, 0);
        var first = await tile.DenoiseAsync(call);
        var passes = executor.ForwardPasses;
        var retry = await tile.DenoiseAsync(call);
        Assert.Equal(passes, executor.ForwardPasses);
        Assert.Equal(first.Window.Data, retry.Window.Data);

        await Assert.ThrowsAsync<InvalidOperationException>(() => tile.DenoiseAsync(new StepCall("idempotent", 0, 0)));
        await Assert.ThrowsAsync<InvalidOperationException>(() => tile.ApplyAsync(new StepCall("idempotent", 1, 1), null));

        await tile.ApplyAsync(call, null);
        await tile.ApplyAsync(call, null); // a retried apply changes nothing
        var next = await tile.DenoiseAsync(call with { Step = 1 });
        Assert.NotEqual(first.Window.Data, next.Window.Data);
        await tile.ReleaseAsync();
    }
}
