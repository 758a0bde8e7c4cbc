using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Schedulers;

/// <summary>
/// A stateless sampler: every method is a pure function of its arguments and the step index, so any
/// tile on any machine computes the same update, and sync can average in the scheduler's own space.
/// </summary>
public interface IScheduler
{
    int Steps { get; }

    /// <summary>The model's timestep conditioning at step <paramref name="step"/>.</summary>
    double Timestep(int step);

    /// <summary>ᾱ of <see cref="ModelInput"/> at step <paramref name="step"/> (a = √ᾱ, b = √(1−ᾱ)).</summary>
    double AlphaBar(int step);

    /// <summary>
    /// How much of the image the run has put into the input of step <paramref name="step"/>: with the same prediction x̂
    /// at every step, from an initial latent of pure noise, the expected model input over √ᾱ is c·x̂ (noise adds none
    /// of it). A forward-noised image holds all of it (c = 1), the first step none (c = 0); each step moves x only part
    /// way toward its prediction, so c lags behind 1 − noise. A denoiser that matches its input against clean images
    /// reads the image at this scale.
    /// </summary>
    double SignalFraction(int step);

    /// <summary>Scale of the initial latent relative to standard normal noise.</summary>
    double InitNoiseSigma { get; }

    /// <summary>The variance-preserving denoiser input for the latent <paramref name="x"/>.</summary>
    Tensor ModelInput(Tensor x, int step);

    /// <summary>Whether <see cref="Step"/> needs fresh noise at this step.</summary>
    bool UsesNoise(int step);

    /// <summary>x at step + 1 from x at step and the prediction (x̂0, ε̂).</summary>
    Tensor Step(Tensor x, Tensor sample, Tensor epsilon, int step, Tensor? noise);
}
