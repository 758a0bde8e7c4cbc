using OrleansDiffusion.Diffusion.Schedulers;
using OrleansDiffusion.Diffusion.StableDiffusion.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion;

/// <summary>One component's weights: its safetensors file (or shard index), parameter count, stored dtypes of the weights.</summary>
public sealed record ComponentWeights(string Name, string Path, long Parameters, IReadOnlyList<string> DTypes, SafeTensorsCheckpoint File);

/// <summary>
/// A diffusers model folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/), validated
/// on <see cref="Open"/>: every config parses, the tokenizer loads, and every weight file's header matches the
/// modules built from the configs (names and shapes, strictly) — before any weight is read. Errors are
/// <see cref="ModelFormatException"/>s naming the file and the tensor or field.
/// </summary>
public sealed class DiffusersFolder
{
    private DiffusersFolder(string root)
    {
        Root = root;
    }

    public string Root { get; }
    public ModelIndex Index { get; private set; } = null!;
    public UNetConfig UNet { get; private set; } = null!;
    public VaeConfig Vae { get; private set; } = null!;
    public ClipTextConfig TextEncoder { get; private set; } = null!;
    public SchedulerConfig Scheduler { get; private set; } = null!;
    public string SchedulerClass { get; private set; } = "";
    public ClipTokenizer Tokenizer { get; private set; } = null!;
    public IReadOnlyList<ComponentWeights> Weights { get; private set; } = [];

    public static DiffusersFolder Open(string root)
    {
        if (!Directory.Exists(root)) throw new ModelFormatException(root, null, "is not a folder");
        var folder = new DiffusersFolder(root);
        folder.Index = ModelIndex.Read(Path.Combine(root, "model_index.json"));
        foreach (var component in ModelIndex.Required)
            if (!Directory.Exists(Path.Combine(root, component))) throw new ModelFormatException(Path.Combine(root, component), null, "folder is missing");
        folder.UNet = UNetConfig.Read(Path.Combine(root, "unet", "config.json"));
        folder.Vae = VaeConfig.Read(Path.Combine(root, "vae", "config.json"));
        folder.TextEncoder = ClipTextConfig.Read(Path.Combine(root, "text_encoder", "config.json"));
        (folder.Scheduler, folder.SchedulerClass) = SchedulerConfigReader.Read(Path.Combine(root, "scheduler", "scheduler_config.json"));
        folder.Tokenizer = ClipTokenizer.FromFolder(Path.Combine(root, "tokenizer"));
        if (folder.Vae.LatentChannels != folder.UNet.InChannels)
            throw new ModelFormatException(Path.Combine(root, "unet", "config.json"), "in_channels", $"is {folder.UNet.InChannels} but the VAE has {folder.Vae.LatentChannels} latent channels");
        if (folder.TextEncoder.HiddenSize != folder.UNet.CrossAttentionDim)
            throw new ModelFormatException(Path.Combine(root, "unet", "config.json"), "cross_attention_dim", $"is {folder.UNet.CrossAttentionDim} but the text encoder's hidden_size is {folder.TextEncoder.HiddenSize}");

        var meta = new Device(DeviceType.META);
        using var unet = new UNet2DConditionModel(folder.UNet, meta);
        using var vae = new AutoencoderKL(folder.Vae, meta);
        using var text = new ClipTextModel(folder.TextEncoder, meta);
        folder.Weights =
        [
            Check("unet", WeightsPath(root, "unet", "diffusion_pytorch_model"), unet),
            Check("vae", WeightsPath(root, "vae", "diffusion_pytorch_model"), vae),
            Check("text_encoder", WeightsPath(root, "text_encoder", "model"), text),
        ];
        return folder;
    }

    /// <summary>Pixels per latent cell along each axis.</summary>
    public int LatentScale => Vae.ScaleFactor;

    /// <summary>Builds the modules on the CPU, fills them strictly, then moves them to <paramref name="device"/> (optionally fp16).</summary>
    public StableDiffusionModel Load(Device? device = null, bool half = false)
    {
        var unet = new UNet2DConditionModel(UNet);
        var vae = new AutoencoderKL(Vae);
        var text = new ClipTextModel(TextEncoder);
        try
        {
            StrictWeights.Load(unet, Weights[0].File);
            StrictWeights.Load(vae, Weights[1].File);
            StrictWeights.Load(text, Weights[2].File);
            foreach (var module in new nn.Module[] { unet, vae, text })
            {
                module.eval();
                if (device is not null) module.to(device);
                if (half) module.to(ScalarType.Float16);
            }
            return new StableDiffusionModel(this, unet, vae, text);
        }
        catch
        {
            unet.Dispose();
            vae.Dispose();
            text.Dispose();
            throw;
        }
    }

    private static ComponentWeights Check(string name, string path, nn.Module module)
    {
        var file = SafeTensorsCheckpoint.Open(path);
        StrictWeights.Match(StrictWeights.Expected(module), file);
        var dtypes = file.Entries.Values.Where(e => e.IsFloat).Select(e => e.DType).Distinct().Order().ToArray();
        return new ComponentWeights(name, path, StrictWeights.Count(module), dtypes, file);
    }

    /// <summary>name.safetensors, else its sharded index name.safetensors.index.json, else the fp16 variants of both.</summary>
    internal static string WeightsPath(string root, string component, string stem)
    {
        var folder = Path.Combine(root, component);
        foreach (var candidate in new[] { stem + ".safetensors", stem + ".safetensors.index.json", stem + ".fp16.safetensors", stem + ".safetensors.index.fp16.json", stem + ".fp16.safetensors.index.json" })
        {
            var path = Path.Combine(folder, candidate);
            if (File.Exists(path)) return path;
        }
        throw new ModelFormatException(Path.Combine(folder, stem + ".safetensors"), null, "file is missing (only safetensors weights are read, single or sharded with .safetensors.index.json)");
    }
}
