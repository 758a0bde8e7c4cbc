using OrleansDiffusion.Diffusion.Denoisers;
using OrleansDiffusion.Diffusion.Schedulers;
using TorchSharp;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion;

/// <summary>
/// Stable Diffusion as an <see cref="IDenoiser"/> over latent tile windows: one UNet pass per window with its
/// unconditional/conditional pair as a batch of two, ε = ε_u + w·(ε_c − ε_u). A window's result is bit-identical
/// whatever other windows share the call (batched convolutions are not batch-independent in libtorch, and the
/// cluster batches tiles by placement). Text embeddings are computed once, at construction. Not local (halo 0):
/// overlaps and sync keep tiles in agreement.
/// </summary>
public sealed class StableDiffusionDenoiser : IDenoiser, ILatentDecoder
{
    private readonly StableDiffusionModel _model;
    private readonly bool _ownsModel;
    private readonly Tensor _unconditional; // [1, 77, D]
    private readonly Tensor _conditional;

    public StableDiffusionDenoiser(StableDiffusionModel model, string prompt, string negativePrompt, double guidance, bool ownsModel = false, int decodeTile = DefaultDecodeTile)
    {
        _model = model;
        _ownsModel = ownsModel;
        Guidance = guidance;
        DecodeTile = decodeTile;
        var device = model.UNet.parameters().First().device;
        var dtype = model.UNet.parameters().First().dtype;
        using var noGrad = no_grad();
        using var ids = tensor(model.Tokenizer.Encode(negativePrompt).Concat(model.Tokenizer.Encode(prompt)).ToArray(), [2, model.Tokenizer.Length], device: device);
        using var embeddings = model.TextEncoder.forward(ids).to(dtype);
        _unconditional = embeddings[0].unsqueeze(0).clone();
        _conditional = embeddings[1].unsqueeze(0).clone();
        Name = $"sd:{Path.GetFileName(Path.TrimEndingDirectorySeparator(model.Folder.Root))}";
    }

    public string Name { get; }
    public double Guidance { get; }
    public int DecodeTile { get; }

    /// <summary>Latent cells a side of a decode tile (the cluster's distributed decode uses the same windows).</summary>
    public const int DefaultDecodeTile = 64;
    public int Channels => _model.UNet.Config.InChannels;
    public PredictionType Prediction => _model.Folder.Scheduler.Prediction;
    public SchedulerConfig SchedulerConfig => _model.Folder.Scheduler;
    public int LatentScale => _model.Folder.LatentScale;
    public int MaxHalo => 0;

    public int Halo(DenoiseContext context) => 0;

    public Tensor Predict(Tensor input, int halo, DenoiseContext context)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var parameter = _model.UNet.parameters().First();
        var timesteps = ScalarMath.Full(2, context.Timestep, ScalarType.Float32, parameter.device);
        var text = cat([_unconditional, _conditional]);
        var windows = new Tensor[input.shape[0]];
        for (var i = 0; i < windows.Length; i++)
        {
            var window = input.narrow(0, i, 1).to(parameter.dtype, parameter.device);
            var output = _model.UNet.Forward(cat([window, window]), timesteps, text).to(input.dtype, input.device);
            windows[i] = Combine(output.narrow(0, 0, 1), output.narrow(0, 1, 1), Guidance);
        }
        return cat(windows).MoveToOuterDisposeScope();
    }

    /// <summary>Classifier-free guidance: ε_u + w·(ε_c − ε_u).</summary>
    public static Tensor Combine(Tensor unconditional, Tensor conditional, double guidance) =>
        unconditional.Plus(ScalarMath.Times(conditional.sub(unconditional), guidance));

    /// <summary>The conditional prediction alone (no guidance), for checks.</summary>
    public Tensor PredictConditional(Tensor input, DenoiseContext context)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var batch = input.shape[0];
        var timesteps = ScalarMath.Full(batch, context.Timestep, ScalarType.Float32);
        return _model.UNet.Forward(input, timesteps, _conditional.expand(batch, -1, -1)).MoveToOuterDisposeScope();
    }

    public Tensor Decode(Tensor latent)
    {
        var parameter = _model.Vae.parameters().First();
        using var moved = latent.to(parameter.dtype, parameter.device);
        using var decoded = TiledVaeDecoder.Decode(_model.Vae, moved, DecodeTile);
        return decoded.to(ScalarType.Float32, latent.device).ClampInPlace(-1, 1);
    }

    public void Dispose()
    {
        _unconditional.Dispose();
        _conditional.Dispose();
        if (_ownsModel) _model.Dispose();
    }
}
