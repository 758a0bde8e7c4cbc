namespace OrleansDiffusion.Abstractions;

/// <summary>Checks a <see cref="JobSpec"/> against the rules every front end (CLI, SDK, HTTP) shares.
/// Field names are the command-line option names without dashes.</summary>
public static class JobSpecValidator
{
    public const int MinSide = 16;
    public const int MaxSide = 65536;
    public const int MinTile = 32;
    public const int MaxSteps = 1000;

    public static IReadOnlyList<ValidationError> Validate(JobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var errors = new List<ValidationError>();
        void Fail(string field, string message) => errors.Add(new ValidationError(field, message));

        if (spec.Prompt.Length > 4096) Fail("prompt", "must be at most 4096 characters");
        if (spec.NegativePrompt.Length > 4096) Fail("negative-prompt", "must be at most 4096 characters");
        CheckSide("width", spec.Width);
        CheckSide("height", spec.Height);
        if (spec.Width >= MinSide && spec.Height >= MinSide && (long)spec.Width * spec.Height > JobSpec.MaxPixels)
            Fail("width", $"width × height = {(long)spec.Width * spec.Height} pixels exceeds the cap of {JobSpec.MaxPixels} (16384²)");
        if (spec.Steps < 1 || spec.Steps > MaxSteps) Fail("steps", $"must be between 1 and {MaxSteps}, got {spec.Steps}");
        if (spec.Seed < 0) Fail("seed", $"must be zero or positive, got {spec.Seed}");
        if (spec.Tile < MinTile || spec.Tile % 8 != 0) Fail("tile", $"must be a multiple of 8 and at least {MinTile}, got {spec.Tile}");
        else if (spec.Tile > Math.Max(spec.Width, spec.Height) && spec.Width >= MinSide && spec.Height >= MinSide)
            Fail("tile", $"must be at most the canvas's larger side ({Math.Max(spec.Width, spec.Height)}), got {spec.Tile}");
        if (spec.Overlap < 0) Fail("overlap", $"must be zero or positive, got {spec.Overlap}");
        else if (spec.Overlap >= spec.Tile) Fail("overlap", $"must be smaller than the tile size ({spec.Tile}), got {spec.Overlap}");
        else if (spec.Sync == SyncMode.Halo && spec.Overlap != 0)
            Fail("overlap", "must be 0 with --sync halo (halo tiles read their neighbours' pixels instead of overlapping)");
        if (!Enum.IsDefined(spec.Sync)) Fail("sync", $"unknown sync mode {(int)spec.Sync}");
        if (!Enum.IsDefined(spec.Scheduler)) Fail("scheduler", $"unknown scheduler {(int)spec.Scheduler}");
        if (double.IsNaN(spec.Eta) || spec.Eta < 0 || spec.Eta > 1) Fail("eta", $"must be between 0 and 1, got {spec.Eta}");
        if (spec.Eta > 0 && spec.Scheduler != SchedulerKind.Ddim) Fail("eta", "only applies to --scheduler ddim");
        if (spec.Karras && spec.Scheduler != SchedulerKind.Euler) Fail("karras", "only applies to --scheduler euler");
        if (double.IsNaN(spec.Cfg) || spec.Cfg < 0 || spec.Cfg > 50) Fail("cfg", $"must be between 0 and 50, got {spec.Cfg}");
        if (spec.Exemplar is not null && spec.Model is not null) Fail("exemplar", "cannot be combined with --model");
        if (spec.Exemplar is { } exemplar)
        {
            if (exemplar.Png.Length > ExemplarImage.MaxBytes) Fail("exemplar", $"the PNG is {exemplar.Png.Length} bytes; at most {ExemplarImage.MaxBytes} are allowed");
            else if (!exemplar.Png.AsSpan().StartsWith(PngSignature)) Fail("exemplar", $"'{exemplar.Name}' is not a PNG file (no PNG signature)");
            if (exemplar.Name.Length is 0 or > 128) Fail("exemplar", "needs a name of 1 to 128 characters");
        }
        if (spec.Model is not null && spec.Model.Length == 0) Fail("model", "must not be empty");
        return errors;

        void CheckSide(string field, int value)
        {
            if (value < MinSide || value > MaxSide || value % 8 != 0)
                Fail(field, $"must be a multiple of 8 between {MinSide} and {MaxSide}, got {value}");
        }
    }

    private static ReadOnlySpan<byte> PngSignature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>The rules of <see cref="Validate"/> plus those of a cluster: the model is a name in the silos' model store
    /// (<see cref="ModelNames"/>), never a path.</summary>
    public static IReadOnlyList<ValidationError> ValidateForCluster(JobSpec spec)
    {
        var errors = Validate(spec).ToList();
        if (spec.Model is { Length: > 0 } model && ModelNames.Check(model) is { } problem) errors.Add(new ValidationError("model", problem));
        return errors;
    }

    /// <summary>Throws <see cref="InvalidJobException"/> listing every broken rule.</summary>
    public static void EnsureValid(JobSpec spec)
    {
        var errors = Validate(spec);
        if (errors.Count > 0) throw new InvalidJobException(errors);
    }
}
