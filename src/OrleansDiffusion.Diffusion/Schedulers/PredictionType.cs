using static OrleansDiffusion.Diffusion.ScalarMath;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Schedulers;

/// <summary>What a denoiser predicts from its (variance-preserving) input x = a·x0 + b·ε.</summary>
public enum PredictionType
{
    Epsilon,
    Sample,
    VPrediction,
}

/// <summary>Turns any prediction into the pair (x̂0, ε̂) the schedulers work with.</summary>
public static class Prediction
{
    /// <param name="modelInput">the variance-preserving input the denoiser saw.</param>
    /// <param name="output">the denoiser's output.</param>
    /// <param name="alphaBar">ᾱ of the input: a = √ᾱ, b = √(1−ᾱ).</param>
    public static (Tensor Sample, Tensor Epsilon) Decompose(Tensor modelInput, Tensor output, PredictionType type, double alphaBar)
    {
        var a = Math.Sqrt(alphaBar);
        var b = Math.Sqrt(1 - alphaBar);
        return type switch
        {
            PredictionType.Epsilon => (Over(modelInput - Times(output, b), a), output.alias()),
            PredictionType.Sample => (output.alias(), Over(modelInput - Times(output, a), b)),
            PredictionType.VPrediction => (Times(modelInput, a) - Times(output, b), Times(output, a).Plus(Times(modelInput, b))),
            _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
        };
    }
}
