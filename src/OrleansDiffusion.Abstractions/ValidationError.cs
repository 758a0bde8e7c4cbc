namespace OrleansDiffusion.Abstractions;

/// <summary>One rule a request broke: <paramref name="Field"/> names the offending field (its JobSpec property, in kebab case as on the command line).</summary>
[GenerateSerializer, Immutable, Alias("odiff.ValidationError")]
public sealed record ValidationError([property: Id(0)] string Field, [property: Id(1)] string Message)
{
    public override string ToString() => $"{Field}: {Message}";
}

/// <summary>Thrown when a request is invalid; nothing has been computed or written. Serializable, so a coordinator
/// on another silo reports the named fields to the caller unchanged.</summary>
[GenerateSerializer, Alias("odiff.InvalidJobException")]
public sealed class InvalidJobException : Exception
{
    public InvalidJobException(IReadOnlyList<ValidationError> errors)
        : base(string.Join(Environment.NewLine, errors)) => Errors = errors;

    public InvalidJobException(string field, string message)
        : this([new ValidationError(field, message)])
    {
    }

    public InvalidJobException()
        : this([])
    {
    }

    public InvalidJobException(string message)
        : this("request", message)
    {
    }

    public InvalidJobException(string message, Exception inner)
        : base(message, inner) => Errors = [new ValidationError("request", message)];

    [Id(0)]
    public IReadOnlyList<ValidationError> Errors { get; private set; }
}
