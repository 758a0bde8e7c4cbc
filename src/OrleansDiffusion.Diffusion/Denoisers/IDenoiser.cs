using OrleansDiffusion.Diffusion.Schedulers;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Denoisers;

/// <summary>Where in the sampling run, and where on the canvas, a prediction is made.</summary>
/// <param name="AlphaBar">ᾱ of the (variance-preserving) input.</param>
/// <param name="Timestep">the model's timestep conditioning.</param>
/// <param name="Origins">per window of the batch, the canvas position (row, column) of its first input pixel, halo
/// included (negative at the top and left borders); null: every window at (0, 0).</param>
/// <param name="StartAlphaBar">ᾱ of the run's first step, whose input is pure noise (0: a run that starts with no signal left).</param>
public readonly record struct DenoiseContext(int Step, int Steps, double AlphaBar, double Timestep, IReadOnlyList<(int Y, int X)>? Origins = null,
    double StartAlphaBar = 0)
{
    /// <summary>
    /// How much of the image a deterministic sampler has put into this input so far: x_t/√ᾱ = c·x̂ + noise with
    /// c = 1 − σ/σ_start (σ = √((1 − ᾱ)/ᾱ)), not the c = 1 that a forward-noised image has. The run starts from pure noise at
    /// ᾱ_start &gt; 0, which holds none of the image's a·x0, and each DDIM or Euler step moves the input only part way toward
    /// the prediction: q_{k+1} = x̂ + (σ_{k+1}/σ_k)(q_k − x̂), so q_k − x̂ = (σ_k/σ_start)(q_start − x̂). 0 at the first step, 1
    /// when the run starts at ᾱ = 0. A stochastic sampler (η &gt; 0) puts in more than this.
    /// </summary>
    public double SignalFraction => StartAlphaBar <= 0 ? 1 : Math.Clamp(1 - Math.Sqrt((1 - AlphaBar) / AlphaBar * StartAlphaBar / (1 - StartAlphaBar)), 0, 1);

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
