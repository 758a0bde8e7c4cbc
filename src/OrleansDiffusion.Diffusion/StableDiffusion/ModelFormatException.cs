namespace OrleansDiffusion.Diffusion.StableDiffusion;

/// <summary>A model folder that cannot be used as it is: names the file and, where there is one, the tensor or field.</summary>
public sealed class ModelFormatException : Exception
{
    public ModelFormatException(string file, string? item, string problem)
        : base(item is null ? $"{file}: {problem}" : $"{file}: '{item}': {problem}")
    {
        File = file;
        Item = item;
    }

    public ModelFormatException()
    {
        File = "";
    }

    public ModelFormatException(string message)
        : base(message)
    {
        File = "";
    }

    public ModelFormatException(string message, Exception inner)
        : base(message, inner)
    {
        File = "";
    }

    /// <summary>The file at fault.</summary>
    public string File { get; }

    /// <summary>The tensor or configuration field at fault, if any.</summary>
    public string? Item { get; }
}
