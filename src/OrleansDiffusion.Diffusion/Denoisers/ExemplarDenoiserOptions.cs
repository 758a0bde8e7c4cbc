namespace OrleansDiffusion.Diffusion.Denoisers;

public sealed record ExemplarDenoiserOptions
{
    /// <summary>Patches in the bank: null = every exemplar position (the default; rare structures such as mortar
    /// lines survive); a number takes a fixed random subset (small, fast test models).</summary>
    public int? PatchCount { get; init; }

    /// <summary>Leaf clusters of the search tree (k-means over the patch features); null = about patches / 48.
    /// 1 = brute force over the (capped) bank.</summary>
    public int? Clusters { get; init; }

    /// <summary>How much farther (relatively, in squared feature distance) a neighbour's shifted match may be than a
    /// pixel's own and still be taken: larger keeps longer coherent copies (brick courses, smooth gradients).</summary>
    public double Coherence { get; init; } = 2;

    public PatchSizeSchedule Schedule { get; init; } = new();

    /// <summary>Seed of the patch subset and the index; the bank is part of the model, not of the job's noise.</summary>
    public int BankSeed { get; init; } = 1234;
}
