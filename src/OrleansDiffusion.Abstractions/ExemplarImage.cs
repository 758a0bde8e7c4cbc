namespace OrleansDiffusion.Abstractions;

/// <summary>A user's exemplar PNG as it travels with a job: its name (for the PNG metadata) and its bytes. Two
/// exemplars are equal when their names and bytes are, so a resubmitted job with the same file is the same job.</summary>
[GenerateSerializer, Immutable, Alias("odiff.ExemplarImage")]
public sealed record ExemplarImage([property: Id(0)] string Name, [property: Id(1)] byte[] Png)
{
    /// <summary>Largest exemplar PNG accepted, in bytes.</summary>
    public const int MaxBytes = 16 << 20;

    public bool Equals(ExemplarImage? other) =>
        other is not null && Name == other.Name && Png.AsSpan().SequenceEqual(other.Png);

    public override int GetHashCode() => HashCode.Combine(Name, Png.Length);
}
