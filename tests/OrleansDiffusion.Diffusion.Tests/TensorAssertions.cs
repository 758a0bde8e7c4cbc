using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests;

internal static class TensorAssertions
{
    /// <summary>Same shape and bit-identical values, every temporary held as in <see cref="MaxDifference"/>.</summary>
    public static bool IsSameAs(this Tensor actual, Tensor expected)
    {
        if (!actual.shape.SequenceEqual(expected.shape)) return false;
        using var equal = actual.eq(expected);
        GC.KeepAlive(actual);
        GC.KeepAlive(expected);
        using var all = equal.all();
        return all.item<bool>();
    }

    /// <summary>Whether any value is NaN, every temporary held as in <see cref="MaxDifference"/>.</summary>
    public static bool HasNaN(Tensor values)
    {
        using var nan = values.isnan();
        GC.KeepAlive(values);
        using var any = nan.any();
        return any.item<bool>();
    }

    /// <summary>Same shape and the same bytes (also tells −0 from +0 and NaN payloads apart).</summary>
    public static bool SameBits(Tensor a, Tensor b)
    {
        // The contiguous copies stay referenced while their bytes are read (a collected temporary frees its memory).
        if (!a.shape.SequenceEqual(b.shape)) return false;
        using var left = a.contiguous();
        using var right = b.contiguous();
        return left.bytes.SequenceEqual(right.bytes);
    }

    /// <summary>max |a − b|. TorchSharp frees a collected tensor on the finalizer thread, even while a native call still
    /// reads it, so a chain of temporaries such as <c>(a - b).abs().max()</c> can crash the test host (it did, in
    /// <c>at::native::abs</c>). A synchronous test's tensors are held by its scope (<see cref="TensorScopeAttribute"/>);
    /// an asynchronous test has none, so each temporary here stays referenced until its native call is done.</summary>
    public static float MaxDifference(Tensor a, Tensor b) => Reduce(a, b, static m => m.max());

    /// <summary>mean |a − b|, every temporary held as in <see cref="MaxDifference"/>.</summary>
    public static float MeanDifference(Tensor a, Tensor b) => Reduce(a, b, static m => m.mean());

    /// <summary>max |a − b| / b, every temporary held as in <see cref="MaxDifference"/>.</summary>
    public static float MaxRelativeDifference(Tensor a, Tensor b)
    {
        using var difference = a - b;
        using var magnitude = difference.abs();
        using var relative = magnitude / b;
        GC.KeepAlive(a);
        GC.KeepAlive(b);
        using var largest = relative.max();
        return largest.item<float>();
    }

    private static float Reduce(Tensor a, Tensor b, Func<Tensor, Tensor> reduce)
    {
        using var difference = a - b;
        GC.KeepAlive(a);
        GC.KeepAlive(b);
        using var magnitude = difference.abs();
        using var reduced = reduce(magnitude);
        return reduced.item<float>();
    }
}
