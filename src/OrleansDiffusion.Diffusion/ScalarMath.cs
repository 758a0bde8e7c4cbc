using TorchSharp;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion;

/// <summary>
/// Tensor arithmetic with a number whose Scalar stays alive until libtorch returns. TorchSharp converts the number (and
/// the implicit alpha of 1 in a tensor add) to a Scalar it never holds on to, so the GC may finalise it while libtorch
/// still reads it (seen under load as "Unknown scalar type" and "toFloat: Expected false to be true"); these are the
/// very same operations. Every tensor-and-number operation in the engine's per-step and per-forward code goes through here.
/// </summary>
public static class ScalarMath
{
    public static Tensor Times(Tensor tensor, double factor)
    {
        using var scalar = factor.ToScalar();
        return tensor.mul(scalar);
    }

    public static Tensor Over(Tensor tensor, double divisor)
    {
        using var scalar = divisor.ToScalar();
        return tensor.div(scalar);
    }

    /// <summary>a + b, as a new tensor (the operator's implicit alpha of 1 is the Scalar at risk).</summary>
    public static Tensor Plus(this Tensor a, Tensor b)
    {
        using var one = 1.ToScalar();
        return a.add(b, one);
    }

    /// <summary>target += values, in place (returns target).</summary>
    public static Tensor AddInPlace(this Tensor target, Tensor values)
    {
        using var one = 1.ToScalar();
        return target.add_(values, one);
    }

    /// <summary>target += alpha · values, in place (returns target).</summary>
    public static Tensor AddInPlace(this Tensor target, Tensor values, double alpha)
    {
        using var scalar = alpha.ToScalar();
        return target.add_(values, scalar);
    }

    /// <summary>target += value, in place (returns target).</summary>
    public static Tensor AddInPlace(this Tensor target, double value)
    {
        using var scalar = value.ToScalar();
        return target.add_(scalar);
    }

    /// <summary>A vector of <paramref name="length"/> copies of <paramref name="value"/>.</summary>
    public static Tensor Full(long length, double value, ScalarType type, Device? device = null)
    {
        using var scalar = value.ToScalar();
        return full(length, scalar, type, device);
    }

    /// <summary>The values limited to [min, max], as a new tensor.</summary>
    public static Tensor Clamp(Tensor tensor, double min, double max)
    {
        using var low = min.ToScalar();
        using var high = max.ToScalar();
        return tensor.clamp(low, high);
    }

    /// <summary>Limits the values to [min, max] in place (returns the tensor).</summary>
    public static Tensor ClampInPlace(this Tensor tensor, double min, double max)
    {
        using var low = min.ToScalar();
        using var high = max.ToScalar();
        return tensor.clamp_(low, high);
    }

    /// <summary>The values raised to at least <paramref name="min"/>, as a new tensor.</summary>
    public static Tensor AtLeast(Tensor tensor, double min)
    {
        using var low = min.ToScalar();
        return tensor.clamp_min(low);
    }
}
