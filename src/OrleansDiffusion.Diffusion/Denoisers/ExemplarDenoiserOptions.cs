namespace OrleansDiffusion.Diffusion.Denoisers;

public sealed record ExemplarDenoiserOptions
{
    /// <summary>Patches sampled from the exemplar (the model's memory).</summary>
    public int PatchCount { get; init; } = 512;

    /// <summary>
    /// Dimensions of the principal-component projection used for the patch dot products; null keeps all
    /// (the exact formula). The ‖P‖² term is always exact.
    /// </summary>
    public int? ProjectionDims { get; init; } = 16;

    public PatchSizeSchedule Schedule { get; init; } = new();

    /// <summary>Seed of the patch positions; the bank is part of the model, not of the job's noise.</summary>
    public int BankSeed { get; init; } = 1234;

    /// <summary>Canvas pixels per softmax block (bounds the [pixels × patches] logits buffer).</summary>
    public int ChunkPixels { get; init; } = 4096;
}
