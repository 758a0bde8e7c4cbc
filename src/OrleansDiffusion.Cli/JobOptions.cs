using System.CommandLine;
using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Cli;

/// <summary>The options that describe a job (DESIGN §9 names), shared by the verbs that start one. One instance per command.</summary>
internal sealed class JobOptions
{
    private static readonly JobSpec Defaults = new();

    public Option<string> Prompt { get; } = new("--prompt") { Description = "What to generate; texture and colour words pick the built-in exemplar (marble, bricks, wood, clouds, cells, terrain, ...).", DefaultValueFactory = _ => "" };
    public Option<string> NegativePrompt { get; } = new("--negative-prompt") { Description = "What to steer away from (Stable Diffusion models).", DefaultValueFactory = _ => "" };
    public Option<string?> Exemplar { get; } = new("--exemplar") { Description = "A PNG whose patches the built-in denoiser reproduces (instead of a procedural texture)." };
    public Option<string?> Model { get; } = new("--model") { Description = "A diffusers model folder (absent: the built-in exemplar denoiser)." };
    public Option<int> Width { get; } = new("--width") { Description = "Canvas width in pixels (multiple of 8).", DefaultValueFactory = _ => Defaults.Width };
    public Option<int> Height { get; } = new("--height") { Description = "Canvas height in pixels (multiple of 8).", DefaultValueFactory = _ => Defaults.Height };
    public Option<int> Steps { get; } = new("--steps") { Description = "Denoising steps.", DefaultValueFactory = _ => Defaults.Steps };
    public Option<long> Seed { get; } = new("--seed") { Description = "Seed of the noise field; the same seed gives the same image whatever the tiling.", DefaultValueFactory = _ => Defaults.Seed };
    public Option<int> Tile { get; } = new("--tile") { Description = "Tile (window) size in pixels.", DefaultValueFactory = _ => Defaults.Tile };
    public Option<int?> Overlap { get; } = new("--overlap") { Description = $"Overlap between neighbouring tiles (default {Defaults.Overlap}; 0 with --sync halo)." };
    public Option<SyncMode> Sync { get; } = new("--sync") { Description = "How tiles are kept in agreement between steps.", DefaultValueFactory = _ => Defaults.Sync };
    public Option<SchedulerKind?> Scheduler { get; } = new("--scheduler") { Description = "Sampler: ddim or euler (default: the one a --model folder names, else ddim)." };
    public Option<double> Eta { get; } = new("--eta") { Description = "DDIM eta (0 deterministic .. 1 stochastic; noise from the shared field).", DefaultValueFactory = _ => 0 };
    public Option<bool> Karras { get; } = new("--karras") { Description = "Karras sigmas for the Euler scheduler." };
    public Option<double> Cfg { get; } = new("--cfg") { Description = "Classifier-free guidance weight (Stable Diffusion models).", DefaultValueFactory = _ => Defaults.Cfg };
    public Option<bool> Tileable { get; } = new("--tileable") { Description = "Wrap the canvas around so the image tiles seamlessly." };

    public IEnumerable<Option> All =>
        [Prompt, NegativePrompt, Exemplar, Model, Width, Height, Steps, Seed, Tile, Overlap, Sync, Scheduler, Eta, Karras, Cfg, Tileable];

    public void AddTo(Command command)
    {
        foreach (var option in All) command.Options.Add(option);
    }

    /// <summary>The spec as given (not validated).</summary>
    public JobSpec ToSpec(ParseResult parsed)
    {
        var sync = parsed.GetValue(Sync);
        return new JobSpec
        {
            Prompt = parsed.GetValue(Prompt) ?? "",
            NegativePrompt = parsed.GetValue(NegativePrompt) ?? "",
            Exemplar = ReadExemplar(parsed.GetValue(Exemplar)),
            Model = parsed.GetValue(Model),
            Width = parsed.GetValue(Width),
            Height = parsed.GetValue(Height),
            Steps = parsed.GetValue(Steps),
            Seed = parsed.GetValue(Seed),
            Tile = parsed.GetValue(Tile),
            Overlap = parsed.GetValue(Overlap) ?? (sync == SyncMode.Halo ? 0 : Defaults.Overlap),
            Sync = sync,
            Scheduler = parsed.GetValue(Scheduler) ?? (parsed.GetValue(Model) is { } model && Directory.Exists(model)
                ? Diffusion.StableDiffusion.SchedulerConfigReader.DefaultFor(model)
                : Defaults.Scheduler),
            Eta = parsed.GetValue(Eta),
            Karras = parsed.GetValue(Karras),
            Cfg = parsed.GetValue(Cfg),
            Tileable = parsed.GetValue(Tileable),
        };
    }

    /// <summary>The exemplar file's bytes, to travel with the job; a file that cannot be read is an input error on --exemplar.</summary>
    private static ExemplarImage? ReadExemplar(string? path)
    {
        if (path is null) return null;
        if (!File.Exists(path)) throw new InvalidJobException("exemplar", $"file '{path}' does not exist");
        try
        {
            var length = new FileInfo(path).Length;
            if (length > ExemplarImage.MaxBytes) throw new InvalidJobException("exemplar", $"file '{path}' is {length} bytes; at most {ExemplarImage.MaxBytes} are allowed");
            var image = new ExemplarImage(Diffusion.Imaging.ExemplarCatalog.NameOfFile(path), File.ReadAllBytes(path));
            // Decoded here so that a broken file is an input error before anything runs or is sent.
            using var pixels = Diffusion.Imaging.ImageLoader.LoadRgb(image.Png, path);
            return image;
        }
        catch (Diffusion.Imaging.InvalidImageException e)
        {
            throw new InvalidJobException("exemplar", e.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidJobException("exemplar", $"file '{path}' cannot be read ({e.Message})");
        }
    }
}
