using System.CommandLine;
using System.Globalization;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion;
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
    private static readonly Option<string> Modes = new("--modes") { Description = "Sync modes to measure, comma-separated.", DefaultValueFactory = _ => "none,average,gaussian,attention,halo" };
    private static readonly Option<int> Threads = CliOption.Int("--threads", "Compute threads: libtorch's intra-op threads and the attention band sync's (0: the CPU quota).", 1);

    public static Command Create()
    {
        var bench = new Command("bench", "Measure the coordinator and the cluster (benchmarks, not jobs).");
        var sync = new Command("sync", "Time the coordinator's sync per step and per tile-step for every sync mode.");
        foreach (var option in new Option[] { Canvas, Tile, Overlap, Channels, Context, Repeats, Modes, Threads }) sync.Options.Add(option);
        sync.SetAction(Sync);
        bench.Subcommands.Add(sync);
        bench.Subcommands.Add(CreateScaling());
        bench.Subcommands.Add(BenchClusterJob.Create());
        bench.Subcommands.Add(BenchTexture.Create());
        return bench;
    }

    private static int Sync(ParseResult parsed)
    {
        var (canvas, tile, overlap, channels, context, repeats) = (parsed.GetValue(Canvas), parsed.GetValue(Tile), parsed.GetValue(Overlap),
            parsed.GetValue(Channels), parsed.GetValue(Context), parsed.GetValue(Repeats));
        var requestedThreads = parsed.GetValue(Threads);
        var errors = new List<ValidationError>();
        if (repeats < 1) errors.Add(new("repeats", $"must be positive, got {repeats}"));
        if (requestedThreads < 0) errors.Add(new("threads", $"must be 0 (the CPU quota) or positive, got {requestedThreads}"));
        if (errors.Count > 0) throw new InvalidJobException(errors);
        var threads = TorchThreads.Configure(requestedThreads);
        foreach (var mode in ParseModes(parsed.GetValue(Modes)!))
        {
            // Each measurement's own peak: the kernel's high-water mark is reset before it.
            ProcessMemory.ResetPeak();
            var timing = SyncBenchmark.Measure(mode, canvas, tile, overlap, channels, context, repeats);
            var fullPeak = ProcessMemory.Read(Environment.ProcessId)?.HighWaterMark ?? 0;
            ProcessMemory.ResetPeak();
            var band = SyncBenchmark.MeasureBands(mode, canvas, tile, overlap, channels, context, repeats);
            var bandPeak = ProcessMemory.Read(Environment.ProcessId)?.HighWaterMark ?? 0;
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{CliOption.Spelling(mode),-10} {timing.Tiles} tiles  {timing.StepMilliseconds,8:F1} ms/step  {timing.TileStepMilliseconds,7:F4} ms/tile-step  cpu {timing.CpuTileStepMilliseconds,7:F4} ms/tile-step  peak RSS {fullPeak / 1048576.0:F0} MiB"));
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{"",-10} band sync  {band.StepMilliseconds,8:F1} ms/step  {band.TileStepMilliseconds,7:F4} ms/tile-step  cpu {band.CpuTileStepMilliseconds,7:F4} ms/tile-step  peak RSS {bandPeak / 1048576.0:F0} MiB  ({threads} thread{(threads == 1 ? "" : "s")})"));
            var side = SyncBenchmark.MeasureTileSide(mode, canvas, tile, overlap, channels, context, repeats);
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{"",-10} tile side  upload {side.UploadMilliseconds,7:F4} ms/tile-step  apply {side.ApplyMilliseconds,7:F4} ms/tile-step  (a worker's exchange work per tile it hosts)"));
            var bytes = SyncBenchmark.Bytes(mode, canvas, tile, overlap, channels, context);
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{"",-10} bytes/step: band {bytes.PerStep:N0} (up {bytes.Up:N0}, down {bytes.Down:N0}), bound {bytes.LowerBound:N0}, ratio {bytes.Ratio:F3} ({bytes.SyncRatio:F3} without the {bytes.Preview:N0} preview bytes); full-window {bytes.FullWindow:N0} ({bytes.FullWindowRatio:F3}×)"));
        }
        return ExitCodes.Success;
    }

    private static IReadOnlyList<SyncMode> ParseModes(string text)
    {
        var modes = new List<SyncMode>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!Enum.TryParse<SyncMode>(part, ignoreCase: true, out var mode) || !Enum.IsDefined(mode) || int.TryParse(part, out _))
                throw new InvalidJobException("modes", $"expected sync modes from none, average, gaussian, attention, halo; got '{part}'");
            modes.Add(mode);
        }
        if (modes.Count == 0) throw new InvalidJobException("modes", "give at least one sync mode");
        return modes;
    }
}
