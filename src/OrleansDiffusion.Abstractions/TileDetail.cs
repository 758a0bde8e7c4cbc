namespace OrleansDiffusion.Abstractions;

[GenerateSerializer, Alias("odiff.TileState")]
public enum TileState
{
    /// <summary>Not yet placed or initialised.</summary>
    Pending,

    /// <summary>Denoising the current step.</summary>
    Denoising,

    /// <summary>Done with the current step, waiting for the others and the sync.</summary>
    Done,

    /// <summary>Its silo was lost; being re-created on another accelerator silo.</summary>
    Recovering,
}

/// <summary>One tile as progress reports show it: where it runs and how long its last step took.</summary>
[GenerateSerializer, Immutable, Alias("odiff.TileDetail")]
public sealed record TileDetail(
    [property: Id(0)] int Index,
    [property: Id(1)] int Row,
    [property: Id(2)] int Column,
    [property: Id(3)] TileState State,
    [property: Id(4)] string? Silo,
    [property: Id(5)] string? Device,
    [property: Id(6)] double LastStepSeconds);
