namespace OrleansDiffusion.Diffusion.Denoisers;

public sealed record ExemplarDenoiserOptions
{
    /// <summary>Patches in the bank: null = every exemplar position (the default; rare structures such as mortar
    /// lines survive); a number takes a fixed random subset (small, fast test models).</summary>
    public int? PatchCount { get; init; }

    /// <summary>
    /// Dimensions of the principal-component projection used for the nearest-patch search; null keeps all
    /// (exact distances).
    /// </summary>
    public int? ProjectionDims { get; init; } = 12;

    /// <summary>Clusters of the search index (k-means over the projected patches); null = about √patches. 1 = brute force.</summary>
    public int? Clusters { get; init; }

    public PatchSizeSchedule Schedule { get; init; } = new();

    /// <summary>Seed of the patch subset and the index; the bank is part of the model, not of the job's noise.</summary>
    public int BankSeed { get; init; } = 1234;

    /// <summary>Canvas pixels per search block (bounds the [pixels × patches] score buffer).</summary>
    public int ChunkPixels { get; init; } = 4096;
}
