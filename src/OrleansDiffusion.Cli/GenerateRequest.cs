using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Imaging;

namespace OrleansDiffusion.Cli;

/// <summary>A parsed <c>odiff generate</c>: the job plus what the command line adds (output, cluster size, format).</summary>
internal sealed record GenerateRequest(JobSpec Spec, string Output, int Silos, int BitDepth, bool Json)
{
    /// <summary>Largest embedded cluster (silos in this one process).</summary>
    public const int MaxSilos = 16;

    public PngBitDepth Depth => BitDepth == 16 ? PngBitDepth.Sixteen : PngBitDepth.Eight;

    /// <summary>Throws <see cref="InvalidJobException"/> listing every broken rule; leaves the file system as it was.</summary>
    public void Validate()
    {
        var errors = JobSpecValidator.Validate(Spec).ToList();
        void Fail(string field, string message) => errors.Add(new ValidationError(field, message));

        if (OutputPath.CheckFile("out", Output, ".png") is { } output) errors.Add(output);
        if (BitDepth is not (8 or 16)) Fail("bit-depth", $"must be 8 or 16, got {BitDepth}");
        else if (BitDepth == 16 && Silos > 1) Fail("bit-depth", "16-bit output is written by the in-process engine only (--silos 1)");
        if (Silos is < 1 or > MaxSilos) Fail("silos", $"must be between 1 and {MaxSilos}, got {Silos}");
        if (Spec.Model is { Length: > 0 } && !Directory.Exists(Spec.Model))
            Fail("model", $"'{Spec.Model}' is not a folder (a diffusers folder: model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/)");
        if (errors.Count > 0) throw new InvalidJobException(errors);
    }
}
