using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Hosting;

namespace OrleansDiffusion.Grains.Tests;

/// <summary>A tile's numbers do not depend on placement, batch composition or thread count, so any number of silos
/// gives the same PNG, byte for byte, in every sync mode.</summary>
public class SiloCountTests
{
    private static readonly SiloRole[][] Layouts =
    [
        [SiloRole.All],
        [SiloRole.All, SiloRole.Worker],
        [SiloRole.All, SiloRole.Worker, SiloRole.Worker],
        [SiloRole.Coordinator, SiloRole.Worker, SiloRole.Worker, SiloRole.Worker, SiloRole.Worker],
    ];

    [Fact]
    public async Task One_two_three_and_four_accelerator_silos_give_identical_images_in_every_sync_mode()
    {
        using var outputs = new TempDirectory();
        var modes = Enum.GetValues<SyncMode>();
        var images = new Dictionary<SyncMode, List<byte[]>>();
        foreach (var roles in Layouts)
        {
            await using var cluster = await EmbeddedCluster.StartAsync(roles, outputs.Path);
            foreach (var mode in modes)
            {
                var status = await ClusterJobs.RunAsync(cluster, ClusterJobs.Spec(mode, steps: 4));
                Assert.True(status.State == JobState.Completed, status.Error);
                Assert.Equal(roles.Count(r => r != SiloRole.Coordinator), status.Statistics!.Silos);
                (images.TryGetValue(mode, out var list) ? list : images[mode] = []).Add(await File.ReadAllBytesAsync(Path.Combine(outputs.Path, status.OutputPath!)));
            }
        }
        foreach (var mode in modes)
            Assert.All(images[mode], png => Assert.Equal(images[mode][0], png));
    }

    [Fact]
    public async Task The_reported_case_512_pixels_tile_192_overlap_48_attention_is_identical_on_one_and_three_silos()
    {
        using var outputs = new TempDirectory();
        var spec = ClusterJobs.Spec(SyncMode.Attention, steps: 16) with { Width = 512, Height = 512, Tile = 192, Overlap = 48 };
        var images = new List<byte[]>();
        foreach (var roles in new SiloRole[][] { [SiloRole.All], [SiloRole.All, SiloRole.Worker, SiloRole.Worker] })
        {
            await using var cluster = await EmbeddedCluster.StartAsync(roles, outputs.Path);
            var status = await ClusterJobs.RunAsync(cluster, spec);
            Assert.True(status.State == JobState.Completed, status.Error);
            images.Add(await File.ReadAllBytesAsync(Path.Combine(outputs.Path, status.OutputPath!)));
        }
        Assert.Equal(images[0], images[1]);
        Assert.Equal(await ClusterJobs.InProcessPngAsync(spec, outputs.Path), images[0]);
    }
}
