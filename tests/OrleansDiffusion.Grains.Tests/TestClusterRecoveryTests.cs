using Orleans.TestingHost;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Hosting;

namespace OrleansDiffusion.Grains.Tests;

/// <summary>Orleans' own test cluster (InProcessTestCluster): a coordinator silo and two worker silos; one worker is
/// killed (KillSiloAsync) after a step the watch has seen, and the job completes with the in-process engine's PNG.
/// With checkpoints every 5 steps the loss comes before or after the full exchange at step 5; without checkpoints every
/// step but the last moves only bands, so the loss always rolls every tile back to the noise field.</summary>
public abstract class TestClusterRecoveryTests : IAsyncLifetime
{
    private readonly TempDirectory _outputs = new();
    private InProcessTestCluster? _cluster;
    private int _silos;

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(3);
        builder.ConfigureSilo((silo, siloBuilder) => siloBuilder
            .AddOrleansDiffusionMemoryState()
            .AddOrleansDiffusionGrains(new DiffusionSiloOptions
            {
                Role = Interlocked.Increment(ref _silos) == 1 ? SiloRole.Coordinator : SiloRole.Worker, // the first silo coordinates
                SiloName = silo.SiloName,
                OutputDirectory = _outputs.Path,
                CheckpointEvery = CheckpointEvery,
            }));
        _cluster = builder.Build();
        await _cluster.DeployAsync();
        // Heterogeneous silos: the client learns the coordinator's grain types from the cluster manifest shortly after it connects.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                _cluster.Client.GetGrain<ICoordinatorGrain>("probe");
                break;
            }
            catch (ArgumentException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
        }
    }

    /// <summary>Steps between full exchanges (and checkpoints); 0: none before the last step.</summary>
    protected abstract int CheckpointEvery { get; }

    public async Task DisposeAsync()
    {
        if (_cluster is not null) await _cluster.DisposeAsync();
        _outputs.Dispose();
    }

    [Fact]
    public async Task Killing_a_worker_silo_mid_job_costs_no_bit_of_the_image()
    {
        var spec = ClusterJobs.Spec(SyncMode.Attention, steps: 8);
        var coordinator = _cluster!.Client.GetGrain<ICoordinatorGrain>("test-cluster-kill");
        await coordinator.SubmitAsync(spec);
        var running = await ClusterJobs.WaitForAsync(coordinator, s => s.Step >= 2 && s.TileDetails?.Any(t => t.Silo is not null) == true);
        var victimName = running.TileDetails!.First(t => t.Silo is not null).Silo;
        var victim = _cluster.Silos.Single(s => s.Name == victimName);
        await _cluster.KillSiloAsync(victim);

        var done = await ClusterJobs.WaitAsync(coordinator);
        Assert.True(done.State == JobState.Completed, done.Error);
        Assert.True(done.Recoveries > 0, "no tile was re-created: the kill changed nothing");
        Assert.DoesNotContain(done.TilePlacement!, p => p.StartsWith(victimName + "/", StringComparison.Ordinal));
        Assert.Equal(await ClusterJobs.InProcessPngAsync(spec, _outputs.Path), await File.ReadAllBytesAsync(Path.Combine(_outputs.Path, done.OutputPath!)));
    }
}

/// <summary>The two test clusters run one after the other (each is three silos in this process).</summary>
[CollectionDefinition(Name)]
public sealed class TestClusterRecoveryCollection
{
    public const string Name = "test-cluster-recovery";
}

[Collection(TestClusterRecoveryCollection.Name)]
public sealed class TestClusterRecoveryWithCheckpointsTests : TestClusterRecoveryTests
{
    protected override int CheckpointEvery => 5;
}

[Collection(TestClusterRecoveryCollection.Name)]
public sealed class TestClusterRollbackTests : TestClusterRecoveryTests
{
    protected override int CheckpointEvery => 0;
}
