using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests;

internal static class TensorAssertions
{
    /// <summary>Same shape and bit-identical values.</summary>
    public static bool IsSameAs(this Tensor actual, Tensor expected) =>
        actual.shape.SequenceEqual(expected.shape) && actual.eq(expected).all().item<bool>();
}
