using System.CommandLine;
using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Cli;

/// <summary>Where <c>--model</c> points: a local diffusers folder (<c>generate</c>) or a name in the cluster's model store (<c>submit</c>).</summary>
internal enum ModelReference
{
    LocalFolder,
    ClusterName,
}

/// <summary>The options that describe a job (DESIGN §9 names), shared by the verbs that start one. One instance per command.</summary>
internal sealed class JobOptions(ModelReference model)
{
    private static readonly JobSpec Defaults = new();

    public Option<string> Prompt { get; } = new("--prompt") { Description = "What to generate; texture and colour words pick the built-in exemplar (marble, bricks, wood, clouds, cells, terrain, ...).", DefaultValueFactory = _ => "" };
    public Option<string> NegativePrompt { get; } = new("--negative-prompt") { Description = "What to steer away from (Stable Diffusion models).", DefaultValueFactory = _ => "" };
    public Option<string?> Exemplar { get; } = new("--exemplar") { Description = "A PNG whose patches the built-in denoiser reproduces (instead of a procedural texture)." };
    public Option<string?> Model { get; } = new("--model")
    {
        Description = model == ModelReference.LocalFolder
            ? "A diffusers model folder (absent: the built-in exemplar denoiser)."
            : "The name of a model in the cluster's model store, e.g. sd15 (absent: the built-in exemplar denoiser).",
    };
    public Option<int> Width { get; } = CliOption.Int("--width", "Canvas width in pixels (multiple of 8).", Defaults.Width);
    public Option<int> Height { get; } = CliOption.Int("--height", "Canvas height in pixels (multiple of 8).", Defaults.Height);
    public Option<int> Steps { get; } = CliOption.Int("--steps", "Denoising steps.", Defaults.Steps);
    public Option<long> Seed { get; } = CliOption.Long("--seed", "Seed of the noise field; the same seed gives the same image whatever the tiling.", Defaults.Seed);
    public Option<int?> Tile { get; } = CliOption.OptionalInt("--tile", $"Tile (window) size in pixels, at most the canvas's larger side (default {Defaults.Tile}, or that side when smaller).");
    public Option<int?> Overlap { get; } = CliOption.OptionalInt("--overlap", $"Overlap between neighbouring tiles (default {Defaults.Overlap}, half the tile when 64 would not fit; 0 with --sync halo).");
    public Option<SyncMode?> Sync { get; } = CliOption.Enum<SyncMode>("--sync", $"How tiles are kept in agreement between steps (default: {CliOption.Spelling(Defaults.Sync)}).");
    public Option<SchedulerKind?> Scheduler { get; } = CliOption.Enum<SchedulerKind>("--scheduler", "Sampler (default: the one a --model folder names, else ddim).");
    public Option<double> Eta { get; } = CliOption.Double("--eta", "DDIM eta (0 deterministic .. 1 stochastic; noise from the shared field).", 0);
    public Option<bool> Karras { get; } = new("--karras") { Description = "Karras sigmas for the Euler scheduler." };
    public Option<double> Cfg { get; } = CliOption.Double("--cfg", "Classifier-free guidance weight (Stable Diffusion models).", Defaults.Cfg);
    public Option<bool> Tileable { get; } = new("--tileable") { Description = "Wrap the canvas around so the image tiles seamlessly." };

    public IEnumerable<Option> All =>
        [Prompt, NegativePrompt, Exemplar, Model, Width, Height, Steps, Seed, Tile, Overlap, Sync, Scheduler, Eta, Karras, Cfg, Tileable];

    public void AddTo(Command command)
    {
        foreach (var option in All) command.Options.Add(option);
    }

    /// <summary>The spec as given (not validated); the exemplar file is read and decoded here, so a missing, special or
    /// broken file is an <see cref="InvalidJobException"/> on --exemplar before anything runs or is sent.</summary>
    public JobSpec ToSpec(ParseResult parsed)
    {
        var sync = parsed.GetValue(Sync) ?? Defaults.Sync;
        var modelValue = parsed.GetValue(Model);
        return new JobSpec
        {
            Prompt = parsed.GetValue(Prompt) ?? "",
            NegativePrompt = parsed.GetValue(NegativePrompt) ?? "",
            Exemplar = parsed.GetValue(Exemplar) is { } exemplar ? ExemplarFile.Read(exemplar) : null,
            Model = modelValue,
            Width = parsed.GetValue(Width),
            Height = parsed.GetValue(Height),
            Steps = parsed.GetValue(Steps),
            Seed = parsed.GetValue(Seed),
            Sync = sync,
            Scheduler = parsed.GetValue(Scheduler) ?? (model == ModelReference.LocalFolder && modelValue is not null && Directory.Exists(modelValue)
                ? Diffusion.StableDiffusion.SchedulerConfigReader.DefaultFor(modelValue)
                : Defaults.Scheduler),
            Eta = parsed.GetValue(Eta),
            Karras = parsed.GetValue(Karras),
            Cfg = parsed.GetValue(Cfg),
            Tileable = parsed.GetValue(Tileable),
        }.WithTiling(parsed.GetValue(Tile), parsed.GetValue(Overlap));
    }
}
