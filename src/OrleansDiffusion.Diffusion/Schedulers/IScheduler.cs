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

    /// <summary>Scale of the initial latent relative to standard normal noise.</summary>
    double InitNoiseSigma { get; }

    /// <summary>The variance-preserving denoiser input for the latent <paramref name="x"/>.</summary>
    Tensor ModelInput(Tensor x, int step);

    /// <summary>Whether <see cref="Step"/> needs fresh noise at this step.</summary>
    bool UsesNoise(int step);

    /// <summary>x at step + 1 from x at step and the prediction (x̂0, ε̂).</summary>
    Tensor Step(Tensor x, Tensor sample, Tensor epsilon, int step, Tensor? noise);
}
