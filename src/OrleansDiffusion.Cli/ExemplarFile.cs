using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Imaging;

namespace OrleansDiffusion.Cli;

/// <summary>Reads an <c>--exemplar</c> PNG to travel with the job: a regular file (never a FIFO or a device, which
/// could block or never end), at most <see cref="ExemplarImage.MaxBytes"/>, that decodes. Anything else is an input
/// error on the option, before anything runs or is sent.</summary>
internal static class ExemplarFile
{
    public const string Option = "exemplar";

    public static ExemplarImage Read(string path)
    {
        if (path.Length == 0 || path.Any(char.IsControl)) throw Invalid($"'{CliText.Printable(path)}' is not a file name");
        if (Directory.Exists(path)) throw Invalid($"'{path}' is a folder, not a PNG file");
        if (!File.Exists(path)) throw Invalid($"file '{path}' does not exist");
        if (!FileKind.IsRegularFile(path)) throw Invalid($"'{path}' is not a regular file");
        try
        {
            var length = new FileInfo(path).Length;
            if (length > ExemplarImage.MaxBytes) throw Invalid($"file '{path}' is {length} bytes; at most {ExemplarImage.MaxBytes} are allowed");
            var image = new ExemplarImage(ExemplarCatalog.NameOfFile(path), File.ReadAllBytes(path));
            using var pixels = ImageLoader.LoadRgb(image.Png, path); // a broken file fails here, not on a silo
            return image;
        }
        catch (InvalidImageException e)
        {
            throw Invalid(e.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Invalid($"file '{path}' cannot be read ({CliText.FirstLine(e.Message)})");
        }
    }

    private static InvalidJobException Invalid(string message) => new(Option, message);
}
