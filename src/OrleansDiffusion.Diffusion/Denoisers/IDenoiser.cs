using OrleansDiffusion.Diffusion.Schedulers;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Denoisers;

/// <summary>Where in the sampling run, and where on the canvas, a prediction is made.</summary>
/// <param name="AlphaBar">ᾱ of the (variance-preserving) input.</param>
/// <param name="Timestep">the model's timestep conditioning.</param>
/// <param name="Origins">per window of the batch, the canvas position (row, column) of its first input pixel, halo
/// included (negative at the top and left borders); null: every window at (0, 0).</param>
/// <param name="SignalFraction">how much of the image the sampler has put into this input so far
/// (<see cref="IScheduler.SignalFraction"/>): x_t/√ᾱ = c·x̂ + noise, 0 at a run's first step; 1 (the default) for
/// an input that holds the whole image, as a forward-noised one does.</param>
public readonly record struct DenoiseContext(int Step, int Steps, double AlphaBar, double Timestep, IReadOnlyList<(int Y, int X)>? Origins = null,
    double SignalFraction = 1)
{
    /// <summary>The canvas position of window <paramref name="index"/>'s first input pixel.</summary>
    public (int Y, int X) Origin(int index) => Origins?[index] ?? (0, 0);
}

/// <summary>
/// A model that predicts from a batch of equally sized tile windows. Local denoisers declare the halo
/// (receptive radius) they need around a window to compute it exactly; non-local ones return 0.
/// </summary>
public interface IDenoiser : IDisposable
{
    int Channels { get; }
    PredictionType Prediction { get; }

    /// <summary>Pixels of context needed on each side of a window for this prediction (0: not local).</summary>
    int Halo(DenoiseContext context);

    /// <summary>The largest <see cref="Halo"/> at any noise level.</summary>
    int MaxHalo { get; }

    /// <summary>
    /// Predicts for <paramref name="input"/> of shape [B, C, h + 2·halo, w + 2·halo] (variance-preserving scale);
    /// returns [B, C, h, w]. <paramref name="halo"/> equals <see cref="Halo"/> for this context.
    /// </summary>
    Tensor Predict(Tensor input, int halo, DenoiseContext context);
}
