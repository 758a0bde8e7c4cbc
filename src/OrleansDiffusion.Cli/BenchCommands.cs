using System.CommandLine;
using System.Globalization;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Bench;

namespace OrleansDiffusion.Cli;

/// <summary><c>odiff bench sync</c> (coordinator sync cost per tile-step), <c>odiff bench scaling</c> (strong scaling
/// over real silo processes with a simulated denoiser) and <c>odiff bench cluster</c> (one real job on real silo processes:
/// what it costs).</summary>
internal static partial class BenchCommands
{
    private static readonly Option<int> Canvas = CliOption.Int("--canvas", "Canvas side in cells (1024 with 64/16 gives 441 tiles).", 1024);
    private static readonly Option<int> Tile = CliOption.Int("--tile", "Window side in cells.", 64);
    private static readonly Option<int> Overlap = CliOption.Int("--overlap", "Overlap between windows in cells.", 16);
    private static readonly Option<int> Channels = CliOption.Int("--channels", "Channels of the canvas (4: an SD latent).", 4);
    private static readonly Option<int> Context = CliOption.Int("--context", "Context cells each update carries around its window.", 0);
    private static readonly Option<int> Repeats = CliOption.Int("--repeats", "Timed sync steps per mode.", 5);
    private static readonly Option<int> Threads = CliOption.Int("--threads", "libtorch intra-op threads (0: leave as is).", 1);

    public static Command Create()
    {
        var bench = new Command("bench", "Measure the coordinator and the cluster (benchmarks, not jobs).");
        var sync = new Command("sync", "Time the coordinator's sync per step and per tile-step for every sync mode.");
        foreach (var option in new Option[] { Canvas, Tile, Overlap, Channels, Context, Repeats, Threads }) sync.Options.Add(option);
        sync.SetAction(Sync);
        bench.Subcommands.Add(sync);
        bench.Subcommands.Add(CreateScaling());
        bench.Subcommands.Add(BenchClusterJob.Create());
        bench.Subcommands.Add(BenchTexture.Create());
        return bench;
    }

    private static int Sync(ParseResult parsed)
    {
        if (parsed.GetValue(Threads) is > 0 and var threads) TorchSharp.torch.set_num_threads(threads);
        foreach (var mode in new[] { SyncMode.None, SyncMode.Average, SyncMode.Gaussian, SyncMode.Attention, SyncMode.Halo })
        {
            var timing = SyncBenchmark.Measure(mode, parsed.GetValue(Canvas), parsed.GetValue(Tile), parsed.GetValue(Overlap),
                parsed.GetValue(Channels), parsed.GetValue(Context), parsed.GetValue(Repeats));
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{mode.ToString().ToLowerInvariant(),-10} {timing.Tiles} tiles  {timing.StepMilliseconds,8:F1} ms/step  {timing.TileStepMilliseconds,7:F4} ms/tile-step  cpu {timing.CpuTileStepMilliseconds,7:F4} ms/tile-step"));
            var bytes = SyncBenchmark.Bytes(mode, parsed.GetValue(Canvas), parsed.GetValue(Tile), parsed.GetValue(Overlap),
                parsed.GetValue(Channels), parsed.GetValue(Context));
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{"",-10} bytes/step: band {bytes.PerStep:N0} (up {bytes.Up:N0}, down {bytes.Down:N0}), bound {bytes.LowerBound:N0}, ratio {bytes.Ratio:F3} ({bytes.SyncRatio:F3} without the {bytes.Preview:N0} preview bytes); full-window {bytes.FullWindow:N0} ({bytes.FullWindowRatio:F3}×)"));
        }
        return ExitCodes.Success;
    }
}
