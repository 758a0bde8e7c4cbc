using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests;

internal static class TensorAssertions
{
    /// <summary>Same shape and bit-identical values.</summary>
    public static bool IsSameAs(this Tensor actual, Tensor expected) =>
        actual.shape.SequenceEqual(expected.shape) && actual.eq(expected).all().item<bool>();

    /// <summary>Same shape and the same bytes (also tells −0 from +0 and NaN payloads apart).</summary>
    public static bool SameBits(Tensor a, Tensor b)
    {
        // The contiguous copies stay referenced while their bytes are read (a collected temporary frees its memory).
        if (!a.shape.SequenceEqual(b.shape)) return false;
        using var left = a.contiguous();
        using var right = b.contiguous();
        return left.bytes.SequenceEqual(right.bytes);
    }
}
