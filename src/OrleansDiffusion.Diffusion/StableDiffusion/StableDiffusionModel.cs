using OrleansDiffusion.Diffusion.StableDiffusion.Modules;

namespace OrleansDiffusion.Diffusion.StableDiffusion;

/// <summary>A loaded Stable Diffusion folder: UNet, VAE, text encoder (weights filled) and its tokenizer and scheduler.</summary>
public sealed class StableDiffusionModel(DiffusersFolder folder, UNet2DConditionModel unet, AutoencoderKL vae, ClipTextModel textEncoder) : IDisposable
{
    public DiffusersFolder Folder { get; } = folder;
    public UNet2DConditionModel UNet { get; } = unet;
    public AutoencoderKL Vae { get; } = vae;
    public ClipTextModel TextEncoder { get; } = textEncoder;
    public ClipTokenizer Tokenizer => Folder.Tokenizer;

    /// <summary>Bytes of all weights as loaded (their device and dtype).</summary>
    public long Bytes => new TorchSharp.torch.nn.Module[] { UNet, Vae, TextEncoder }
        .Sum(m => m.parameters().Sum(p => p.NumberOfElements * p.ElementSize));

    public void Dispose()
    {
        UNet.Dispose();
        Vae.Dispose();
        TextEncoder.Dispose();
    }
}
