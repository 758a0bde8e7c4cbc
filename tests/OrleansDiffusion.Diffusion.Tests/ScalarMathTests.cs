using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests;

/// <summary>ScalarMath only holds the Scalar alive: each helper gives torch's own operation's bits.</summary>
public class ScalarMathTests
{
    private static Tensor Values(long seed)
    {
        using var generator = new Generator((ulong)seed);
        return randn([3, 17, 19], generator: generator);
    }

    [Fact]
    public void Each_helper_gives_the_bits_of_the_torch_operation_it_wraps()
    {
        using var scope = NewDisposeScope();
        var a = Values(1);
        var b = Values(2);

        Assert.True(TensorAssertions.SameBits(ScalarMath.Times(a, 0.37), a * 0.37));
        Assert.True(TensorAssertions.SameBits(ScalarMath.Over(a, 0.37), a / 0.37));
        Assert.True(TensorAssertions.SameBits(a.Plus(b), a + b));
        Assert.True(TensorAssertions.SameBits(a.clone().AddInPlace(b), a + b));
        Assert.True(TensorAssertions.SameBits(a.clone().AddInPlace(b, -0.25), a.add(b, alpha: -0.25)));
        Assert.True(TensorAssertions.SameBits(a.clone().AddInPlace(1.5), a + 1.5));
        Assert.True(TensorAssertions.SameBits(ScalarMath.Clamp(a, -0.5, 0.75), a.clamp(-0.5, 0.75)));
        Assert.True(TensorAssertions.SameBits(a.clone().ClampInPlace(-0.5, 0.75), a.clamp(-0.5, 0.75)));
        Assert.True(TensorAssertions.SameBits(ScalarMath.AtLeast(a, 0.1), a.clamp_min(0.1)));
        Assert.True(TensorAssertions.SameBits(ScalarMath.Full(5, 981.5, ScalarType.Float32), full(5, 981.5, ScalarType.Float32)));
    }

    [Fact]
    public void In_place_helpers_change_their_target_and_return_it()
    {
        using var scope = NewDisposeScope();
        var a = Values(3);
        var before = a.clone();
        var returned = a.AddInPlace(2.0);
        Assert.True(TensorAssertions.SameBits(a, before + 2.0));
        returned.ClampInPlace(0, 1); // through the returned tensor: it shares the target's storage
        Assert.True(TensorAssertions.SameBits(a, (before + 2.0).clamp(0, 1)));
    }
}
