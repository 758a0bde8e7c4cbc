using Microsoft.Extensions.Options;
using OrleansDiffusion.Diffusion.Engine;
using static TorchSharp.torch;

namespace OrleansDiffusion.Grains.Tests;

public class CheckpointStoreTests
{
    [Fact]
    public async Task A_checkpoint_round_trips_bit_for_bit_keeps_only_the_newest_and_a_damaged_one_is_refused()
    {
        using var outputs = new TempDirectory();
        var store = new CheckpointStore(Options.Create(new OutputStoreOptions { Directory = outputs.Path }));
        using var canvas = randn(3, 40, 56);
        using (var states = TileStates.FromCanvas(canvas.clone())) store.Write("job-1", 5, 1, states);
        using (var states = TileStates.FromCanvas(canvas.clone())) store.Write("job-1", 10, 2, states);

        var folder = Path.Combine(store.Directory, "job-1");
        Assert.Equal(["step-000010.ckpt"], Directory.GetFiles(folder).Select(Path.GetFileName));
        var start = await store.ReadAsync("job-1", 10, CancellationToken.None);
        Assert.NotNull(start);
        using (start.States)
        {
            Assert.Equal(10, start.Step);
            using (NewDisposeScope()) // holds the temporaries while native calls read them (a collected one is freed at once)
                Assert.True(start.States.Canvas!.eq(canvas).all().item<bool>());
        }
        Assert.Null(await store.ReadAsync("job-1", 5, CancellationToken.None)); // pruned

        var path = Path.Combine(folder, "step-000010.ckpt");
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[bytes.Length / 2] ^= 0x40;
        await File.WriteAllBytesAsync(path, bytes);
        await Assert.ThrowsAsync<InvalidDataException>(() => store.ReadAsync("job-1", 10, CancellationToken.None));

        using (var tiles = TileStates.FromTiles([randn(3, 8, 8), randn(3, 8, 8)])) store.Write("job-2", 3, 1, tiles);
        var perTile = await store.ReadAsync("job-2", 3, CancellationToken.None);
        using (perTile!.States) Assert.Equal(2, perTile.States.Tiles!.Count);

        store.Delete("job-1");
        Assert.False(Directory.Exists(folder));
        Assert.Throws<Abstractions.InvalidJobException>(() => store.Delete("../outside"));
    }
}
