using TorchSharp;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Schedulers;

/// <summary>
/// Tensor × number with the number's Scalar alive until libtorch returns. TorchSharp's tensor-and-double operators
/// convert the double to a Scalar they never hold on to, so the GC may finalise it while libtorch still reads it (seen as
/// "Unknown scalar type" and "toFloat: Expected false to be true" under load); the results are the same operations.
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
}
