namespace OrleansDiffusion.Diffusion.Imaging;

/// <summary>An image file that cannot be used (missing, not a PNG, undecodable, or outside the allowed size).
/// The message names the file and the rule it broke so the CLI can print it as an input error.</summary>
public sealed class InvalidImageException : Exception
{
    public InvalidImageException(string path, string reason, Exception? innerException = null)
        : base($"Invalid image '{path}': {reason}.", innerException)
    {
        Path = path;
        Reason = reason;
    }

    /// <summary>The file that was rejected.</summary>
    public string Path { get; }

    /// <summary>The rule the file broke, without the path.</summary>
    public string Reason { get; }
}
