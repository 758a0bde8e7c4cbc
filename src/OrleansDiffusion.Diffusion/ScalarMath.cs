using TorchSharp;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion;

/// <summary>
/// Tensor arithmetic with a number whose Scalar stays alive until libtorch returns. TorchSharp converts the number (and
/// the implicit alpha of 1 in a tensor add) to a Scalar it never holds on to, so the GC may finalise it while libtorch
/// still reads it (seen under load as "Unknown scalar type" and "toFloat: Expected false to be true"); these are the
/// very same operations.
/// </summary>
internal static class ScalarMath
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

    /// <summary>target += values, in place (returns target).</summary>
    public static Tensor AddInPlace(this Tensor target, Tensor values)
    {
        using var one = 1.ToScalar();
        return target.add_(values, one);
    }

    /// <summary>target += value, in place (returns target).</summary>
    public static Tensor AddInPlace(this Tensor target, double value)
    {
        using var scalar = value.ToScalar();
        return target.add_(scalar);
    }
}
