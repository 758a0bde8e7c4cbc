using System.Net;
using Microsoft.Extensions.Options;
using OrleansDiffusion.Hosting;
using Orleans.Runtime;
using Orleans.Runtime.Placement;
using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Grains.Tests;

/// <summary>Step calls go through one tile host per worker silo; the host relays each tile's call and its outcome.</summary>
public class TileHostTests(FourSiloClusterFixture fixture) : IClassFixture<FourSiloClusterFixture>
{
    [Fact]
    public async Task After_the_first_step_each_worker_silo_gets_one_step_message_per_step_and_the_image_is_unchanged()
    {
        var spec = ClusterJobs.Spec(SyncMode.Attention, steps: 6);
        var status = await ClusterJobs.RunAsync(fixture.Cluster, spec);
        Assert.True(status.State == JobState.Completed, status.Error);

        var statistics = status.Statistics!;
        Assert.Equal(2, statistics.Silos);
        // The first step calls each tile (their silos are not known yet), every later one each of the 2 worker silos once;
        // a step that outlasts a call's wait adds calls, so this is the least there can be.
        var fewest = (statistics.Tiles + 2.0 * (spec.Steps - 1)) / spec.Steps;
        Assert.True(statistics.StepCallsPerStep >= fewest, $"{statistics.StepCallsPerStep} step messages per step, fewer than {fewest}");
        Assert.True(statistics.StepCallsPerStep < statistics.Tiles / 2.0,
            $"{statistics.StepCallsPerStep} step messages per step for {statistics.Tiles} tiles: the tiles were called one by one");
        var png = await File.ReadAllBytesAsync(Path.Combine(fixture.Outputs.Path, status.OutputPath!));
        Assert.Equal(await ClusterJobs.InProcessPngAsync(spec, fixture.Outputs.Path), png);
    }

    [Fact]
    public async Task With_a_message_budget_smaller_than_one_tile_every_tile_gets_its_own_message_and_the_image_is_unchanged()
    {
        using var outputs = new TempDirectory();
        await using var cluster = await EmbeddedCluster.StartAsync([SiloRole.Coordinator, SiloRole.Worker, SiloRole.Worker], outputs.Path,
            o => o.HostMessageBytes = 1);
        var spec = ClusterJobs.Spec(SyncMode.Gaussian, steps: 4);
        var status = await ClusterJobs.RunAsync(cluster, spec);
        Assert.True(status.State == JobState.Completed, status.Error);

        Assert.True(status.Statistics!.StepCallsPerStep >= status.Tiles, $"{status.Statistics.StepCallsPerStep} step messages per step for {status.Tiles} tiles");
        var png = await File.ReadAllBytesAsync(Path.Combine(outputs.Path, status.OutputPath!));
        Assert.Equal(await ClusterJobs.InProcessPngAsync(spec, outputs.Path), png);
    }

    [Fact]
    public void A_silos_tiles_are_split_into_messages_within_the_budget_each_way_in_order()
    {
        int[] tiles = [4, 5, 6, 7, 8];
        long Down(int t) => t == 6 ? 50 : 10;
        long Up(int t) => t == 8 ? 25 : 10;

        // Tile 6 alone is over a budget of 25 down, tile 8 up: each goes alone.
        Assert.Equal([[4, 5], [6], [7], [8]], TileHostMessages.Split(tiles, Down, Up, 25).ToArray());
        Assert.Equal([[4, 5, 6, 7, 8]], TileHostMessages.Split(tiles, Down, Up, 100).ToArray());
        Assert.Equal([[4, 5], [6, 7], [8]], TileHostMessages.Split(tiles, Down, Up, 60).ToArray());
        Assert.Throws<OptionsValidationException>(() => DiffusionSiloOptionsValidator.EnsureValid(new DiffusionSiloOptions { HostMessageBytes = 0 }));
    }

    [Fact]
    public async Task A_host_is_placed_on_the_silo_its_key_names_and_refused_when_that_silo_is_not_an_accelerator_silo()
    {
        SiloAddress[] workers = [SiloAddress.New(IPAddress.Loopback, 11112, 1), SiloAddress.New(IPAddress.Loopback, 11113, 1)];
        var director = new SiloPinnedPlacementDirector();
        var context = new FixedSilos(workers);
        PlacementTarget Target(SiloAddress silo) =>
            new(GrainId.Create("host", silo.ToParsableString()), new Dictionary<string, object>(), default, 0);

        Assert.Equal(workers[1], await director.OnAddActivation(SiloPinnedPlacement.Instance, Target(workers[1]), context));
        Assert.Equal(workers[0], await director.OnAddActivation(SiloPinnedPlacement.Instance, Target(workers[0]), context));
        // A coordinator silo (no tile classes), or a worker of an earlier generation (restarted on the same port): refused.
        var coordinator = SiloAddress.New(IPAddress.Loopback, 11111, 1);
        var restarted = SiloAddress.New(IPAddress.Loopback, 11112, 2);
        await Assert.ThrowsAsync<SiloUnavailableException>(() => director.OnAddActivation(SiloPinnedPlacement.Instance, Target(coordinator), context));
        await Assert.ThrowsAsync<SiloUnavailableException>(() => director.OnAddActivation(SiloPinnedPlacement.Instance, Target(restarted), context));
    }

    private sealed class FixedSilos(SiloAddress[] silos) : IPlacementContext
    {
        public SiloAddress LocalSilo => silos[0];
        public SiloStatus LocalSiloStatus => SiloStatus.Active;
        public SiloAddress[] GetCompatibleSilos(PlacementTarget target) => silos;
        public IReadOnlyDictionary<ushort, SiloAddress[]> GetCompatibleSilosWithVersions(PlacementTarget target) => new Dictionary<ushort, SiloAddress[]> { [0] = silos };
    }
}
