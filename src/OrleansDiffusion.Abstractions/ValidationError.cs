namespace OrleansDiffusion.Abstractions;

/// <summary>One rule a request broke: <paramref name="Field"/> names the offending field (its JobSpec property, in kebab case as on the command line).</summary>
public sealed record ValidationError(string Field, string Message)
{
    public override string ToString() => $"{Field}: {Message}";
}

/// <summary>Thrown when a request is invalid; nothing has been computed or written.</summary>
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

    public IReadOnlyList<ValidationError> Errors { get; }
}
